"""``spotify-audiences doctor``: is everything in place for a sync? A checklist, changing nothing.

Spotify: the credentials, the token refresh (and the refresh token's age when known), every
configured ad account (exists, visible, audience permission), the Ads API terms, and every
configured ``audience_id``. Warehouse: the marts and their freshness, the last build's tests
(``spotify_audience_build_log``) and, on Snowflake, every object ``snowflake-setup`` creates.

Each check passes, fails with a one-line fix, or says it cannot verify here (an emulator that
cannot answer, a table an older build did not write); only a run where every check passes exits
0. Nothing is uploaded: the Spotify calls are reads (list and get audiences) and one token
refresh; the warehouse is only queried.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from spotify_audiences.config import CONFIG_VAR, SpotifySettings, validate_uuid
from spotify_audiences.errors import (
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    SpotifyApiError,
    SpotifyAudiencesError,
    TokenExpiredError,
)

PASS, FAIL, UNKNOWN, WARN = "pass", "fail", "unknown", "warn"
SYMBOLS = {PASS: "✓", FAIL: "✗", UNKNOWN: "?", WARN: "!"}
CANNOT = "cannot verify here"
MARTS = ("spotify_audience_identifiers", "spotify_audience_rejects", "spotify_audience_summary")
BUILD_LOG = "spotify_audience_build_log"
# Spotify refresh tokens last six months; warn in the last month.
TOKEN_LIFETIME_DAYS = 180
TOKEN_WARN_DAYS = 150
ACCESS_DENIED = "PERMISSION.AD_ACCOUNT_ACCESS_DENIED"


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
    source: str = ""


# --- the warehouse, behind one small function ------------------------------------------------


class Warehouse:
    """A read-only query interface to the target's warehouse."""

    def __init__(
        self,
        kind: str,
        schema: str,
        run: Callable[[str, Sequence[Any]], list[tuple]],
        close: Callable[[], None],
        *,
        account: str = "",
        database: str = "",
        role: str = "",
        inputs_modified: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        self.kind, self.schema, self.account = kind, schema, account
        self.database, self.role = database, role
        self._run, self._close, self.inputs_modified = run, close, inputs_modified

    @property
    def emulator(self) -> bool:
        """The local Snowflake emulator used by the tests (fakesnow)."""
        return self.kind == "snowflake" and self.account.lower() == "fakesnow"

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Rows of a read-only statement."""
        return self._run(sql, params)

    def close(self) -> None:
        """Release the connection."""
        self._close()


def open_warehouse(project_dir: Path, profiles_dir: Path | None, target: str | None) -> Warehouse:
    """The target's warehouse, opened read-only (the only place doctor connects)."""
    from spotify_audiences.warehouse import load_dbt_target

    found = load_dbt_target(project_dir, profiles_dir, target)
    creds = found.credentials
    if found.type == "duckdb":
        import duckdb

        path = Path(creds.path or "")
        if not path.is_file():
            raise ConfigError(f"No DuckDB database at {path}: run `dbt build` first.")
        connection = duckdb.connect(str(path), read_only=True)
        csv = _members_csv(project_dir)
        return Warehouse(
            "duckdb",
            creds.schema or "main",
            lambda sql, params: connection.execute(sql, list(params)).fetchall(),
            connection.close,
            inputs_modified=lambda: (
                datetime.fromtimestamp(csv.stat().st_mtime, UTC).replace(tzinfo=None)
                if csv and csv.is_file()
                else None
            ),
        )
    if found.type == "snowflake":
        from spotify_audiences.snowflake.setup.commands import connect_with_profile

        connection = connect_with_profile(
            project_dir, profiles_dir, found.name, query_tag="spotify-audiences doctor"
        )

        def run(sql: str, params: Sequence[Any]) -> list[tuple]:
            return list(connection.cursor().execute(sql, list(params) or None).fetchall())

        relation = _project_vars(project_dir).get("audience_members_relation")

        def inputs_modified() -> datetime | None:
            parts = [p.strip('"').upper() for p in str(relation or "").split(".") if p]
            if not parts:
                return None
            database, schema, table = [creds.database.upper(), creds.schema.upper(), *parts][-3:]
            rows = run(
                f"select last_altered from {database}.information_schema.tables "  # noqa: S608
                "where table_schema = ? and table_name = ?",
                [schema, table],
            )
            if not rows or rows[0][0] is None:
                return None
            changed = rows[0][0]
            return changed.astimezone(UTC).replace(tzinfo=None) if changed.tzinfo else changed

        return Warehouse(
            "snowflake",
            f"{creds.database}.{creds.schema}",
            run,
            connection.close,
            account=str(creds.account or ""),
            database=str(creds.database),
            role=str(creds.role or ""),
            inputs_modified=inputs_modified,
        )
    raise ConfigError(
        f"Target {found.name!r} is a {found.type!r} target; doctor reads duckdb "
        "and snowflake targets."
    )


def _project_vars(project_dir: Path) -> dict[str, Any]:
    import yaml

    try:
        project = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}
    return project.get("vars") or {}


def _members_csv(project_dir: Path) -> Path | None:
    value = _project_vars(project_dir).get("audience_members_csv")
    if not value:
        return None
    path = Path(str(value))
    return path if path.is_absolute() else project_dir / path


# --- what is configured --------------------------------------------------------------------


def configured_targets(
    warehouse: Warehouse | None, project_dir: Path, settings: SpotifySettings
) -> Targets:
    """Accounts and audience ids: the summary mart's settings columns, else the dbt var."""
    default = settings.ad_account_id.strip().lower() if settings.ad_account_id else None
    rows: list[tuple[str, str | None, str | None]] = []
    source = ""
    if warehouse is not None:
        try:
            rows = [
                (str(r[0]), r[1], r[2])
                for r in warehouse.query(
                    "select audience_name, ad_account_id, audience_id "  # noqa: S608
                    f"from {_relation(warehouse, 'spotify_audience_summary')}"
                )
            ]
            source = "the summary mart"
        except Exception:  # an older build without the settings columns: the var then
            rows = []
    if not source:
        audiences = (_project_vars(project_dir).get(CONFIG_VAR) or {}).get("audiences") or {}
        rows = [
            (str(name), (spec or {}).get("ad_account_id"), (spec or {}).get("audience_id"))
            for name, spec in audiences.items()
        ]
        source = f"the {CONFIG_VAR} var"
    targets = Targets(source=source)
    for name, account, audience_id in rows:
        account = str(account).strip().lower() if account else default
        if account and account not in targets.ad_accounts:
            targets.ad_accounts.append(account)
        if audience_id and account:
            targets.audience_ids.append((name, account, str(audience_id).strip().lower()))
    if default and default not in targets.ad_accounts:
        targets.ad_accounts.insert(0, default)
    return targets


def _relation(warehouse: Warehouse, table: str) -> str:
    if warehouse.kind == "duckdb":
        return f'"{warehouse.schema}"."{table}"'
    return f"{warehouse.schema}.{table}"


# --- Spotify ------------------------------------------------------------------------------


def spotify_checks(
    settings: SpotifySettings, sink: Any, targets: Targets, token_file: Path | None
) -> list[Check]:
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
        settings.validated(require_credentials=True)
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
        age = _token_age_days(token_file, settings)
        if age is not None:
            left = TOKEN_LIFETIME_DAYS - age
            status = WARN if age >= TOKEN_WARN_DAYS else PASS
            checks.append(
                Check(
                    group,
                    "refresh token age",
                    status,
                    f"{age} days old; Spotify refresh tokens last about {TOKEN_LIFETIME_DAYS} "
                    f"days ({max(left, 0)} left)",
                    "Renew soon: `spotify-audiences login`." if status == WARN else None,
                )
            )
        client = AdsClient(transport, tokens, base_url=settings.ads_api_url)
        checks += _account_checks(client, targets, API_TERMS_URL)
    finally:
        transport.close()
    return checks


def _token_age_days(token_file: Path | None, settings: SpotifySettings) -> int | None:
    from spotify_audiences.credentials import ENV_TOKEN_FILE, default_token_path

    if os.environ.get("SPOTIFY_REFRESH_TOKEN", "").strip():
        return None  # an env var carries no date
    path = token_file or (
        Path(os.environ[ENV_TOKEN_FILE]) if os.environ.get(ENV_TOKEN_FILE) else default_token_path()
    )
    try:
        saved_at = json.loads(path.read_text()).get("saved_at")
    except (OSError, ValueError, AttributeError):
        return None
    return int((time.time() - float(saved_at)) // 86400) if saved_at else None


def _account_checks(client: Any, targets: Targets, terms_url: str) -> list[Check]:
    group = "Spotify"
    checks: list[Check] = []
    if not targets.ad_accounts:
        return [
            Check(
                group,
                "ad account configured",
                FAIL,
                f"none in {targets.source} or the env",
                "Set SPOTIFY_AD_ACCOUNT_ID or ad_account_id in spotify_audiences_config.",
            )
        ]
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
    missing = [m for m in MARTS if not _table_exists(warehouse, m)]
    if missing:
        checks.append(
            Check(
                group,
                "marts exist",
                FAIL,
                "missing " + ", ".join(missing) + f" in {warehouse.schema}",
                "Run `dbt build` for this target.",
            )
        )
    else:
        checks.append(Check(group, "marts exist", PASS, f"in {warehouse.schema}"))
    last = _last_build(warehouse)
    if last is None:
        note = f"{CANNOT}: no {BUILD_LOG} rows (the package's on-run-end writes them)"
        checks.append(Check(group, "marts are fresh", UNKNOWN, note, "Run `dbt build`."))
        checks.append(Check(group, "last build's tests passed", UNKNOWN, note, "Run `dbt build`."))
    else:
        recorded_at, tests_failed, failed_tests, built_at = last
        checks.append(_freshness(warehouse, built_at))
        if tests_failed:
            names = ", ".join(t.get("name", "?") for t in _json_list(failed_tests)) or "see dbt"
            checks.append(
                Check(
                    group,
                    "last build's tests passed",
                    FAIL,
                    f"{tests_failed} failed on {recorded_at:%Y-%m-%d %H:%M} UTC: {names}",
                    "Fix the data or the tests, then `dbt build` again.",
                )
            )
        else:
            checks.append(
                Check(
                    group,
                    "last build's tests passed",
                    PASS,
                    f"build of {recorded_at:%Y-%m-%d %H:%M} UTC",
                )
            )
    if warehouse.kind == "snowflake":
        from spotify_audiences.snowflake.setup.doctor_checks import setup_checks

        checks += setup_checks(warehouse)
    return checks


def _table_exists(warehouse: Warehouse, table: str) -> bool:
    if warehouse.kind == "duckdb":
        sql = (
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?"
        )
        return bool(warehouse.query(sql, [warehouse.schema, table])[0][0])
    database, schema = warehouse.schema.split(".")
    rows = warehouse.query(
        f"select count(*) from {database}.information_schema.tables "  # noqa: S608
        "where table_schema = ? and table_name = ?",
        [schema.upper(), table.upper()],
    )
    return bool(rows[0][0])


def _last_build(warehouse: Warehouse) -> tuple[datetime, int, str, datetime | None] | None:
    if not _table_exists(warehouse, BUILD_LOG):
        return None
    relation = _relation(warehouse, BUILD_LOG)
    rows = warehouse.query(
        f"select recorded_at, tests_failed, failed_tests from {relation} "  # noqa: S608
        "order by recorded_at desc limit 1"
    )
    if not rows:
        return None
    built = warehouse.query(
        f"select max(recorded_at) from {relation} where marts_built"  # noqa: S608
    )
    recorded_at, tests_failed, failed_tests = rows[0]
    return recorded_at, int(tests_failed or 0), failed_tests or "[]", built[0][0] if built else None


def _json_list(value: Any) -> list[dict]:
    try:
        items = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return []
    return [i for i in items or [] if isinstance(i, dict)]


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
        settings, sink = settings_with_stored_token(
            SpotifySettings.from_env(), TokenStore(token_file)
        )
        targets = configured_targets(warehouse, project_dir, settings)
        checks = spotify_checks(settings, sink, targets, token_file) + checks
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
