"""``spotify-audiences doctor``: is everything in place for a sync? A checklist, changing nothing.

Spotify: the credentials, the token refresh (and the refresh token's age when known), every
configured ad account (exists, visible, audience permission), the Ads API terms, and every
configured ``audience_id``. Warehouse: the marts and their freshness, the last build's tests
(``spotify_audience_build_log``) and, on Snowflake, every object ``snowflake-setup`` creates.

Doctor finds the warehouse as the sync does: :func:`~spotify_audiences.project.resolve_project`
(the project's profile, the target, the marts' relations from ``dbt parse``, custom schemas
included), the sync's :class:`~spotify_audiences.warehouse.MartReader` for the marts, their
settings columns and the build log, and :func:`~spotify_audiences.snowflake.connector.connect`
for Snowflake. Each check passes, fails with a one-line fix, or says it cannot verify here (an
emulator that cannot answer, a table an older build did not write); only a run where every check
passes exits 0. Nothing is uploaded: the Spotify calls are reads (list and get audiences) and one
token refresh; the warehouse is only queried (the ledger, which the reader would create, is
never opened).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from spotify_audiences.config import CONFIG_VAR, ENV_AD_ACCOUNT_ID, SpotifySettings, validate_uuid
from spotify_audiences.errors import (
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    SpotifyApiError,
    SpotifyAudiencesError,
    TokenExpiredError,
    WarehouseError,
)
from spotify_audiences.warehouse import (
    BUILD_LOG,
    BuildRecord,
    DbtTarget,
    MartReader,
    MartRelations,
    duckdb_quote,
    snowflake_quote,
)

PASS, FAIL, UNKNOWN, WARN = "pass", "fail", "unknown", "warn"
SYMBOLS = {PASS: "✓", FAIL: "✗", UNKNOWN: "?", WARN: "!"}
CANNOT = "cannot verify here"
QUERY_TAG = "spotify-audiences doctor"
ACCESS_DENIED = "PERMISSION.AD_ACCOUNT_ACCESS_DENIED"
PACKAGE = "spotify_audiences"
# The package's default members file when this repository is the root project (the source's
# external_location in models/staging/_staging__sources.yml).
DEMO_CSV = "data/demo_audience_members.csv"


@dataclass
class Check:
    """One line of the checklist."""

    group: str
    name: str
    status: str
    detail: str = ""
    fix: str | None = None

    @property
    def ok(self) -> bool:
        """Passed (a warning passes, with a note); failed and unknown do not."""
        return self.status in (PASS, WARN)


@dataclass
class Targets:
    """What the project syncs: ad accounts and the audience ids configured in them."""

    ad_accounts: list[str] = field(default_factory=list)
    audience_ids: list[tuple[str, str, str]] = field(default_factory=list)  # name, account, id
    # audiences that name no ad account while SPOTIFY_AD_ACCOUNT_ID is unset
    without_account: list[str] = field(default_factory=list)
    source: str = ""


# --- the warehouse, found and read as the sync finds and reads it ----------------------------


class Warehouse:
    """The target's warehouse, read-only: the sync's mart reader and the connection under it.

    ``reader`` is None when the marts cannot be read (``reader_error`` says why). The raw
    ``connection`` serves what the reader has no method for: the Snowflake objects setup
    creates, and the input's change time.
    """

    def __init__(
        self,
        target: DbtTarget,
        marts: MartRelations,
        connection: Any,
        *,
        reader: MartReader | None = None,
        reader_error: str | None = None,
        inputs_modified: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        self.target, self.marts, self.connection = target, marts, connection
        self.reader, self.reader_error, self.inputs_modified = reader, reader_error, inputs_modified

    @property
    def kind(self) -> str:
        """The dbt adapter type: duckdb or snowflake."""
        return self.target.type

    @property
    def account(self) -> str:
        """The Snowflake account of the profile ('' on DuckDB)."""
        return str(getattr(self.target.credentials, "account", "") or "")

    @property
    def role(self) -> str:
        """The dbt role of the profile ('' on DuckDB)."""
        return str(getattr(self.target.credentials, "role", "") or "")

    @property
    def database(self) -> str:
        """The profile's database."""
        return str(self.target.credentials.database or "")

    @property
    def code_home(self) -> str:
        """``database.schema`` of the profile: where setup stages the code and creates the UDF,
        the procedure and the task (the target schema, which custom mart schemas do not move)."""
        return f"{self.database}.{self.target.credentials.schema}"

    @property
    def marts_home(self) -> str:
        """Where the marts, the build log and the ledger are, as dbt placed them."""
        return _render(self.kind, self.marts.home.database, self.marts.home.schema)

    @property
    def emulator(self) -> bool:
        """The local Snowflake emulator used by the tests (fakesnow)."""
        return self.kind == "snowflake" and self.account.lower() == "fakesnow"

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Rows of a read-only statement (``?`` parameters)."""
        cursor = self.connection.cursor()
        try:
            if params:
                cursor.execute(sql, list(params))
            else:
                cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def last_marts_build(self, latest: BuildRecord) -> datetime | None:
        """When a dbt invocation last built the marts (the latest one may only have tested)."""
        if latest.marts_built:
            return latest.recorded_at
        relation = f"{self.marts_home}.{_render(self.kind, BUILD_LOG)}"
        rows = self.query(
            f"select max(recorded_at) from {relation} where marts_built"  # noqa: S608
        )
        return rows[0][0] if rows else None

    def close(self) -> None:
        """Release the reader and the connection."""
        try:
            if self.reader is not None:
                self.reader.close()
        finally:
            self.connection.close()


def _render(kind: str, *parts: str | None) -> str:
    quote = duckdb_quote if kind == "duckdb" else snowflake_quote
    return ".".join(quote(p) for p in parts if p)


def open_warehouse(project_dir: Path, profiles_dir: Path | None, target: str | None) -> Warehouse:
    """The target's warehouse, opened read-only (the only place doctor connects)."""
    from spotify_audiences.project import resolve_project

    project = resolve_project(project_dir, profiles_dir, target)
    found, marts = project.target, project.marts
    if found.type == "duckdb":
        import duckdb

        from spotify_audiences.warehouse import DuckDBMartReader

        path = Path(found.credentials.path or "")
        if not path.is_file():
            raise ConfigError(f"No DuckDB database at {path}: run `dbt build` first.")
        connection = duckdb.connect(str(path), read_only=True)
        csv = _members_csv(project_dir)

        def open_reader() -> MartReader:
            return DuckDBMartReader(path, relations=marts, connection=connection)

        def inputs_modified() -> datetime | None:
            if csv is None or not csv.is_file():
                return None
            return datetime.fromtimestamp(csv.stat().st_mtime, UTC).replace(tzinfo=None)

    elif found.type == "snowflake":
        from spotify_audiences.snowflake.connector import SnowflakeMartReader, connect

        connection = connect(found, query_tag=QUERY_TAG)
        relation = _project_vars(project_dir).get("audience_members_relation")
        creds = found.credentials

        def open_reader() -> MartReader:
            return SnowflakeMartReader(
                connection, marts, owned=False, where=f"target {found.name!r}"
            )

        def inputs_modified() -> datetime | None:
            parts = [p.strip('"').upper() for p in str(relation or "").split(".") if p]
            if not parts:
                return None
            database, schema, table = [creds.database.upper(), creds.schema.upper(), *parts][-3:]
            rows = warehouse.query(
                f"select last_altered from {database}.information_schema.tables "  # noqa: S608
                "where table_schema = ? and table_name = ?",
                [schema, table],
            )
            if not rows or rows[0][0] is None:
                return None
            changed = rows[0][0]
            return changed.astimezone(UTC).replace(tzinfo=None) if changed.tzinfo else changed

    else:
        raise ConfigError(
            f"Target {found.name!r} is a {found.type!r} target; doctor reads duckdb "
            "and snowflake targets."
        )
    warehouse = Warehouse(found, marts, connection, inputs_modified=inputs_modified)
    try:
        warehouse.reader = open_reader()
    except WarehouseError as exc:
        warehouse.reader_error = str(exc)
    return warehouse


def _project_yaml(project_dir: Path) -> dict[str, Any]:
    import yaml

    try:
        project = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}
    return project if isinstance(project, dict) else {}


def _project_vars(project_dir: Path) -> dict[str, Any]:
    return _project_yaml(project_dir).get("vars") or {}


def _project_name(project_dir: Path) -> str:
    return str(_project_yaml(project_dir).get("name") or "")


def _members_csv(project_dir: Path) -> Path | None:
    """The ``audience_members_csv`` var; unset, the demo file when this repo is the project."""
    value = _project_vars(project_dir).get("audience_members_csv")
    if not value and (project_dir / DEMO_CSV).is_file() and _project_name(project_dir) == PACKAGE:
        value = DEMO_CSV
    if not value:
        return None
    path = Path(str(value))
    return path if path.is_absolute() else project_dir / path


# --- what is configured --------------------------------------------------------------------


def configured_targets(
    warehouse: Warehouse | None, project_dir: Path, settings: SpotifySettings
) -> Targets:
    """Each audience's ad account and audience id, resolved as the sync resolves them.

    The summary mart's settings columns (what the build resolved from the var); for a summary
    built without them, or marts that cannot be read, the ``spotify_audiences_config`` var of
    dbt_project.yml. An audience without an ad account goes to ``SPOTIFY_AD_ACCOUNT_ID``.
    """
    from spotify_audiences.config import ProjectConfig

    reader = warehouse.reader if warehouse is not None else None
    built = reader.audience_settings() if reader is not None else None
    rows: list[tuple[str, Any, Any]]
    if built is not None:
        rows = [(n, v.get("ad_account_id"), v.get("audience_id")) for n, v in built.items()]
        source = "the summary mart"
    else:
        config = ProjectConfig.from_project(project_dir)
        names = set(config.audiences) | set(reader.audience_names() if reader else [])
        rows = [
            (n, config.for_audience(n).ad_account_id, config.for_audience(n).audience_id)
            for n in names
        ]
        source = f"the {CONFIG_VAR} var"
    default = settings.ad_account_id.strip().lower() if settings.ad_account_id else None
    targets = Targets(source=source)
    if default:
        targets.ad_accounts.append(default)
    for name, account, audience_id in sorted(rows, key=lambda row: str(row[0])):
        account = str(account).strip().lower() if account else default
        if not account:
            targets.without_account.append(str(name))
            continue
        if account not in targets.ad_accounts:
            targets.ad_accounts.append(account)
        if audience_id:
            targets.audience_ids.append((str(name), account, str(audience_id).strip().lower()))
    return targets


# --- Spotify ------------------------------------------------------------------------------


def spotify_checks(settings: SpotifySettings, sink: Any, targets: Targets) -> list[Check]:
    """Credentials, refresh, token age, ad accounts, permission, API terms, audience ids."""
    from spotify_audiences.ads import API_TERMS_URL, AdsClient
    from spotify_audiences.auth import AccessTokens
    from spotify_audiences.transport import Transport

    group = "Spotify"
    checks: list[Check] = []
    missing = [
        name
        for name, value in (
            ("SPOTIFY_CLIENT_ID", settings.client_id),
            ("SPOTIFY_REFRESH_TOKEN", settings.refresh_token),
        )
        if value is None
    ]
    if missing:
        checks.append(
            Check(
                group,
                "credentials present",
                FAIL,
                "missing " + ", ".join(missing),
                "Set SPOTIFY_CLIENT_ID (and SPOTIFY_CLIENT_SECRET), then run "
                "`spotify-audiences login`.",
            )
        )
        return checks
    checks.append(Check(group, "credentials present", PASS, "client id and refresh token"))
    try:
        settings.validated(require_credentials=True, require_account=False)
    except ConfigError as exc:
        checks.append(Check(group, "settings valid", FAIL, str(exc), "Fix the named variable."))
        return checks
    assert settings.client_id is not None and settings.refresh_token is not None
    transport = Transport(timeout=30)
    tokens = AccessTokens(
        transport,
        accounts_url=settings.accounts_url,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        refresh_token=settings.refresh_token,
        sink=sink,
    )
    try:
        try:
            tokens.token()  # the refresh, nothing else
        except TokenExpiredError as exc:
            checks.append(
                Check(
                    group,
                    "token refresh works",
                    FAIL,
                    exc.message,
                    "Run `spotify-audiences login` (or `login --print`, then "
                    "`snowflake-setup --apply --rotate-refresh-token`).",
                )
            )
            return checks
        except SpotifyAudiencesError as exc:
            checks.append(Check(group, "token refresh works", FAIL, str(exc), exc.hint))
            return checks
        checks.append(Check(group, "token refresh works", PASS, "got an access token"))
        age = _token_age_check(sink)
        if age is not None:
            checks.append(age)
        client = AdsClient(transport, tokens, base_url=settings.ads_api_url)
        checks += _account_checks(client, targets, API_TERMS_URL)
    finally:
        transport.close()
    return checks


def _token_age_check(sink: Any) -> Check | None:
    """The refresh token's age, counted from the authorization ``login`` recorded."""
    from spotify_audiences.credentials import (
        AGE_WARNING_WINDOW,
        REFRESH_TOKEN_LIFETIME,
        TokenFileSink,
    )

    obtained_at = sink.obtained_at if isinstance(sink, TokenFileSink) else None
    if obtained_at is None:
        return None  # an env var (or a token file older than the dates) carries no date
    age = datetime.now(UTC) - obtained_at
    left = max((REFRESH_TOKEN_LIFETIME - age).days, 0)
    status = WARN if age >= REFRESH_TOKEN_LIFETIME - AGE_WARNING_WINDOW else PASS
    return Check(
        "Spotify",
        "refresh token age",
        status,
        f"{age.days} days old; Spotify refresh tokens last about "
        f"{REFRESH_TOKEN_LIFETIME.days} days ({left} left)",
        "Renew soon: `spotify-audiences login`." if status == WARN else None,
    )


def _account_checks(client: Any, targets: Targets, terms_url: str) -> list[Check]:
    group = "Spotify"
    checks: list[Check] = []
    fix = (
        f"Set ad_account_id for it in {CONFIG_VAR} and run `dbt build`, or set "
        f"{ENV_AD_ACCOUNT_ID} for the audiences that name none."
    )
    if targets.without_account:
        names = ", ".join(repr(n) for n in targets.without_account)
        checks.append(
            Check(
                group,
                "ad account configured",
                FAIL,
                f"no ad account for {names} (in {targets.source}) and {ENV_AD_ACCOUNT_ID} is unset",
                fix,
            )
        )
    elif not targets.ad_accounts:
        checks.append(
            Check(
                group,
                "ad account configured",
                FAIL,
                f"none in {targets.source} or {ENV_AD_ACCOUNT_ID}",
                fix,
            )
        )
    if not targets.ad_accounts:
        return checks
    terms_refused: SpotifyApiError | None = None
    reachable: set[str] = set()
    for account in targets.ad_accounts:
        name = f"ad account {account}"
        try:
            validate_uuid(account, what="The ad account id")
            next(iter(client.iter_audiences(account)), None)
        except ConfigError as exc:
            checks.append(Check(group, name, FAIL, str(exc), "Use the UUID from Ads Manager."))
        except NotFoundError:
            checks.append(
                Check(
                    group,
                    name,
                    FAIL,
                    "does not exist, or your Spotify user cannot see it",
                    "Check the id in Ads Manager account settings.",
                )
            )
        except PermissionDeniedError as exc:
            if ACCESS_DENIED in exc.error_codes or "access" in " ".join(exc.messages).lower():
                checks.append(
                    Check(
                        group,
                        f"{name}: audience permission",
                        FAIL,
                        "; ".join(exc.messages) or "HTTP 403",
                        "Ask an admin of the ad account for audience management permission.",
                    )
                )
            else:
                terms_refused = exc
                checks.append(
                    Check(
                        group,
                        name,
                        FAIL,
                        "HTTP 403 " + "; ".join(exc.messages),
                        "See the API terms check below.",
                    )
                )
        except SpotifyAudiencesError as exc:
            checks.append(Check(group, name, FAIL, str(exc), exc.hint))
        else:
            reachable.add(account)
            checks.append(
                Check(
                    group,
                    f"{name}: exists, visible, audience permission",
                    PASS,
                    "listing its audiences works",
                )
            )
    if terms_refused is not None:
        checks.append(
            Check(
                group,
                "Ads API terms accepted",
                FAIL,
                "Spotify answers 403 " + "; ".join(terms_refused.messages),
                f"Accept the Ads API terms for this client id at {terms_url}; allow up to an hour.",
            )
        )
    elif reachable:
        checks.append(Check(group, "Ads API terms accepted", PASS, "the Ads API answers"))
    else:
        checks.append(
            Check(group, "Ads API terms accepted", UNKNOWN, f"{CANNOT}: no ad account answered")
        )
    for name, account, audience_id in targets.audience_ids:
        label = f"audience {name!r} id {audience_id}"
        if account not in reachable:
            checks.append(Check(group, label, UNKNOWN, f"{CANNOT}: its ad account did not answer"))
            continue
        try:
            found = client.get_audience(account, audience_id)
        except NotFoundError:
            checks.append(
                Check(
                    group,
                    label,
                    FAIL,
                    f"not in ad account {account}",
                    "Fix or remove audience_id in spotify_audiences_config.",
                )
            )
        except SpotifyAudiencesError as exc:
            checks.append(Check(group, label, FAIL, str(exc), exc.hint))
        else:
            checks.append(
                Check(group, label, PASS, f"exists ({found.get('name')!r}, {found.get('status')})")
            )
    return checks


# --- warehouse ----------------------------------------------------------------------------


def warehouse_checks(warehouse: Warehouse) -> list[Check]:
    """The marts, their freshness, the last build's tests; on Snowflake the setup objects."""
    group = "Warehouse"
    checks: list[Check] = []
    reader = warehouse.reader
    if reader is None:
        checks.append(
            Check(
                group,
                "marts exist",
                FAIL,
                warehouse.reader_error or f"not in {warehouse.marts_home}",
                "Run `dbt build` for this target.",
            )
        )
        note = f"{CANNOT}: the marts cannot be read"
        checks.append(Check(group, "marts are fresh", UNKNOWN, note, "Run `dbt build`."))
        checks.append(Check(group, "last build's tests passed", UNKNOWN, note, "Run `dbt build`."))
    else:
        checks.append(Check(group, "marts exist", PASS, f"in {warehouse.marts_home}"))
        checks += _build_checks(warehouse, reader.latest_build())
    if warehouse.kind == "snowflake":
        from spotify_audiences.snowflake.setup.doctor_checks import setup_checks

        checks += setup_checks(warehouse)
    return checks


def _build_checks(warehouse: Warehouse, last: BuildRecord | None) -> list[Check]:
    group = "Warehouse"
    if last is None:
        note = (
            f"{CANNOT}: no {BUILD_LOG} rows in {warehouse.marts_home} (the package's "
            "on-run-end writes them)"
        )
        return [
            Check(group, "marts are fresh", UNKNOWN, note, "Run `dbt build`."),
            Check(group, "last build's tests passed", UNKNOWN, note, "Run `dbt build`."),
        ]
    checks = [_freshness(warehouse, warehouse.last_marts_build(last))]
    when = f"{last.recorded_at:%Y-%m-%d %H:%M} UTC" if last.recorded_at else "an unknown time"
    if last.tests_failed:
        names = ", ".join(str(t.get("name", "?")) for t in last.failed_tests) or "see dbt"
        checks.append(
            Check(
                group,
                "last build's tests passed",
                FAIL,
                f"{last.tests_failed} failed on {when}: {names}",
                "Fix the data or the tests, then `dbt build` again.",
            )
        )
    else:
        checks.append(
            Check(
                group,
                "last build's tests passed",
                PASS,
                f"dbt {last.dbt_command or 'invocation'} of {when}, {last.tests_run} tests",
            )
        )
    return checks


def _freshness(warehouse: Warehouse, built_at: datetime | None) -> Check:
    group = "Warehouse"
    if built_at is None:
        return Check(group, "marts are fresh", UNKNOWN, f"{CANNOT}: no build of the marts logged")
    try:
        changed = warehouse.inputs_modified()
    except Exception as exc:  # the input's metadata is not readable with this role
        changed = None
        built_note = f" ({type(exc).__name__})"
    else:
        built_note = ""
    if changed is None:
        return Check(
            group,
            "marts are fresh",
            UNKNOWN,
            f"{CANNOT}: the input's change time is unknown{built_note} "
            f"(built {built_at:%Y-%m-%d %H:%M} UTC)",
        )
    if changed > built_at:
        return Check(
            group,
            "marts are fresh",
            FAIL,
            f"the members input changed at {changed:%Y-%m-%d %H:%M} UTC, after the last "
            f"build ({built_at:%Y-%m-%d %H:%M} UTC)",
            "Run `dbt build`.",
        )
    return Check(
        group,
        "marts are fresh",
        PASS,
        f"built {built_at:%Y-%m-%d %H:%M} UTC, after the input changed",
    )


# --- the command --------------------------------------------------------------------------


def run_doctor(
    project_dir: Path,
    profiles_dir: Path | None = None,
    target: str | None = None,
    token_file: Path | None = None,
    *,
    open_warehouse_fn: Callable[[Path, Path | None, str | None], Warehouse] = open_warehouse,
) -> list[Check]:
    """Every check, in checklist order."""
    from spotify_audiences.credentials import TokenStore, settings_with_stored_token

    checks: list[Check] = []
    warehouse = None
    try:
        warehouse = open_warehouse_fn(project_dir, profiles_dir, target)
    except SpotifyAudiencesError as exc:
        checks.append(
            Check(
                "Warehouse",
                "connect to the target",
                FAIL,
                str(exc),
                exc.hint or "Check profiles.yml and --target.",
            )
        )
    except Exception as exc:  # the connector's errors
        checks.append(
            Check(
                "Warehouse",
                "connect to the target",
                FAIL,
                f"{type(exc).__name__}: {exc}",
                "Check profiles.yml and --target.",
            )
        )
    try:
        try:
            settings, sink = settings_with_stored_token(
                SpotifySettings.from_env(), TokenStore(token_file)
            )
            targets = configured_targets(warehouse, project_dir, settings)
        except SpotifyAudiencesError as exc:  # an unreadable token file, an invalid var
            fix = exc.hint or "Fix what the message names."
            return [Check("Spotify", "settings valid", FAIL, str(exc), fix), *checks]
        checks = spotify_checks(settings, sink, targets) + checks
        if warehouse is not None:
            checks += warehouse_checks(warehouse)
    finally:
        if warehouse is not None:
            warehouse.close()
    return checks


def format_checks(checks: Iterable[Check]) -> str:
    """The checklist for a person: one line per check, the fix under each failure."""
    lines = []
    group = None
    for check in checks:
        if check.group != group:
            group = check.group
            lines.append(group)
        detail = f" — {check.detail}" if check.detail else ""
        lines.append(f"  {SYMBOLS[check.status]} {check.name}{detail}")
        if check.fix and (not check.ok or check.status == WARN):
            lines.append(f"      fix: {check.fix}")
    return "\n".join(lines)


@click.command("doctor")
@click.option(
    "--project-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The dbt project.",
)
@click.option(
    "--profiles-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where profiles.yml is (default: DBT_PROFILES_DIR, the project, then ~/.dbt).",
)
@click.option("--target", "-t", help="dbt target to check (default: the profile's).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document for machines.")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SPOTIFY_AUDIENCES_TOKEN_FILE",
    help="Where `login` keeps the refresh token.",
)
def doctor(
    project_dir: Path,
    profiles_dir: Path | None,
    target: str | None,
    as_json: bool,
    token_file: Path | None,
) -> None:
    """Check Spotify and the warehouse before a sync: a checklist with a fix for each failure.

    Nothing is uploaded and nothing is changed. Exit status 0 only when every check passes;
    a check that cannot be verified here does not pass.
    """
    checks = run_doctor(project_dir, profiles_dir, target, token_file)
    ok = all(c.ok for c in checks)
    if as_json:
        click.echo(json.dumps({"ok": ok, "checks": [asdict(c) for c in checks]}, sort_keys=True))
    else:
        click.echo(format_checks(checks))
        passed = sum(c.ok for c in checks)
        click.echo(
            f"\n{passed} of {len(checks)} checks pass." + ("" if ok else " Fix the ✗ and ? lines.")
        )
    sys.exit(0 if ok else 1)
