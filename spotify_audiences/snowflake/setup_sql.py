"""Every Snowflake statement the in-warehouse sync needs, for an admin to read and run.

Two parts, each starting with ``use role``:

1. As the admin role (``CREATE INTEGRATION`` is needed, by default only ACCOUNTADMIN has it):
   the network rule naming the only hosts the procedure may reach, the secrets, the OAuth
   security integration (with ``--auth oauth2``), the external access integration, and the
   grants that let the dbt role use them.
2. As the dbt role (the role of the dbt profile, which owns the marts): the stage, the staged
   code, the phone UDF, the procedure (owner's rights, so callers need no access to the
   secrets) and the task.

Secret values never appear in the statements this module renders: they are placeholders like
``'<SPOTIFY_CLIENT_SECRET>'`` when printed, and bound from the environment when applied.
The phone UDF, the task and the procedure call come from the same Jinja macros that dbt runs
(``macros/snowflake/spotify_audiences_ddl.sql``).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from spotify_audiences.config import DEFAULT_ACCOUNTS_URL, validate_uuid
from spotify_audiences.errors import ConfigError, WarehouseError
from spotify_audiences.snowflake.credentials import (
    CLIENT_ID_ALIAS,
    CLIENT_SECRET_ALIAS,
    OAUTH_ALIAS,
    REFRESH_TOKEN_ALIAS,
)

HOSTS = ("accounts.spotify.com", "api-partner.spotify.com", "storage.googleapis.com")
AUTH_MODES = ("oauth2", "generic")
DDL_MACROS = Path("macros") / "snowflake" / "spotify_audiences_ddl.sql"
PHONE_HANDLER = Path("python_udfs") / "phone_numbers.py"
CODE_ZIP = "spotify_audiences.zip"
ENV_CLIENT_ID = "SPOTIFY_CLIENT_ID"
ENV_CLIENT_SECRET = "SPOTIFY_CLIENT_SECRET"  # noqa: S105 - the variable's name
ENV_REFRESH_TOKEN = "SPOTIFY_REFRESH_TOKEN"  # noqa: S105
# Spotify refresh tokens expire six months after the user authorized the app.
REFRESH_TOKEN_LIFETIME = timedelta(days=180)

_IDENTIFIER = re.compile(r'^[A-Za-z_][A-Za-z0-9_$]*$|^"[^"]+"$')
_SECRET_MARK = re.compile(r"\x00([A-Z_]+)\x00")


def _secret(env_var: str) -> str:
    """Where a secret value goes: a placeholder when printed, a bound parameter when applied."""
    return f"\x00{env_var}\x00"


@dataclass(frozen=True)
class Statement:
    """One statement with the reason it is there."""

    sql: str
    why: str

    @property
    def secret_env_vars(self) -> list[str]:
        """The environment variables whose values this statement carries."""
        return _SECRET_MARK.findall(self.sql)

    def printable(self) -> str:
        """The statement with placeholders instead of secret values."""
        return _SECRET_MARK.sub(lambda m: f"'<{m.group(1)}>'", self.sql)

    def bindable(self) -> tuple[str, list[str]]:
        """The statement for the connector's client-side binding, and the variables in order."""
        return _SECRET_MARK.sub("%s", self.sql), self.secret_env_vars


@dataclass(frozen=True)
class SetupConfig:
    """What the setup needs to know; names of the objects follow from it."""

    database: str
    schema: str
    role: str
    warehouse: str
    ad_account_id: str
    admin_role: str = "ACCOUNTADMIN"
    auth: str = "oauth2"
    mart_schema: str | None = None
    secrets_schema: str | None = None
    cron: str = "0 6 * * * UTC"
    resume_task: bool = False
    grant_to: tuple[str, ...] = ()
    refresh_token_expiry: datetime | None = None
    hosts: tuple[str, ...] = field(default=HOSTS)

    def __post_init__(self) -> None:
        for what, value in (
            ("database", self.database),
            ("schema", self.schema),
            ("role", self.role),
            ("warehouse", self.warehouse),
            ("admin role", self.admin_role),
            *(("role to grant to", r) for r in self.grant_to),
        ):
            if not value or not _IDENTIFIER.match(value):
                raise ConfigError(f"The {what} {value!r} is not a plain Snowflake identifier.")
        for what, value in (
            ("mart schema", self.mart_schema),
            ("secrets schema", self.secrets_schema),
        ):
            if value is not None and not all(_IDENTIFIER.match(p) for p in value.split(".")):
                raise ConfigError(f"The {what} {value!r} must be database.schema.")
        if self.auth not in AUTH_MODES:
            raise ConfigError(f"--auth must be one of {', '.join(AUTH_MODES)}, not {self.auth!r}.")
        validate_uuid(self.ad_account_id, what="The ad account id", env="SPOTIFY_AD_ACCOUNT_ID")
        if len(self.cron.split()) != 6:
            raise ConfigError(
                f"The schedule {self.cron!r} must be five CRON fields and a time zone, "
                "e.g. '0 6 * * * UTC'."
            )

    @property
    def home(self) -> str:
        """``database.schema`` holding the stage, the UDF, the procedure and the task."""
        return f"{self.database}.{self.schema}"

    @property
    def secrets_home(self) -> str:
        """``database.schema`` holding the network rule and the secrets."""
        return self.secrets_schema or self.home

    @property
    def marts(self) -> str:
        """``database.schema`` where dbt builds the marts."""
        return self.mart_schema or self.home

    @property
    def stage(self) -> str:
        return f"{self.home}.spotify_audiences_code"

    @property
    def procedure(self) -> str:
        return f"{self.home}.spotify_audiences_sync"

    @property
    def procedure_signature(self) -> str:
        return f"{self.procedure}(array, varchar, varchar, object)"

    @property
    def function(self) -> str:
        return f"{self.home}.normalize_phone"

    @property
    def task(self) -> str:
        return f"{self.home}.spotify_audiences_sync_task"

    @property
    def network_rule(self) -> str:
        return f"{self.secrets_home}.spotify_audiences_egress"

    @property
    def integration(self) -> str:
        return "spotify_audiences_egress"

    @property
    def security_integration(self) -> str:
        return "spotify_audiences_oauth"

    @property
    def secrets(self) -> dict[str, str]:
        """Alias in the procedure's SECRETS clause -> secret name."""
        if self.auth == "oauth2":
            return {OAUTH_ALIAS: f"{self.secrets_home}.spotify_audiences_oauth_token"}
        return {
            CLIENT_ID_ALIAS: f"{self.secrets_home}.spotify_audiences_client_id",
            CLIENT_SECRET_ALIAS: f"{self.secrets_home}.spotify_audiences_client_secret",
            REFRESH_TOKEN_ALIAS: f"{self.secrets_home}.spotify_audiences_refresh_token",
        }

    @property
    def handler(self) -> str:
        module = "spotify_audiences.snowflake.procedure"
        if self.auth == "oauth2":
            return f"{module}.sync_with_oauth_secret"
        return f"{module}.sync_with_generic_secrets"


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class DdlMacros:
    """The plain-Jinja macros of ``spotify_audiences_ddl.sql``, rendered as dbt renders them."""

    def __init__(self, project_dir: Path) -> None:
        import jinja2

        path = project_dir / DDL_MACROS
        try:
            source = path.read_text()
        except FileNotFoundError:
            raise ConfigError(
                f"No {DDL_MACROS} under {project_dir}: run from the dbt project or pass "
                "--project-dir."
            ) from None
        environment = jinja2.Environment(  # noqa: S701 - SQL, not HTML
            extensions=["jinja2.ext.do"], undefined=jinja2.StrictUndefined
        )
        # the macros call each other through the package namespace, as dbt requires of a package
        environment.globals["spotify_audiences"] = self
        self._module = environment.from_string(source).module

    def __getattr__(self, name: str) -> object:
        return getattr(self.__dict__["_module"], name)

    def render(self, name: str, *args: object) -> str:
        """The output of macro ``name``, trimmed."""
        return str(getattr(self._module, name)(*args)).strip()


def build_code_zip(directory: Path) -> Path:
    """Zip the ``spotify_audiences`` package for the procedure's IMPORTS (same bytes each time)."""
    import spotify_audiences

    package = Path(spotify_audiences.__file__).resolve().parent
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / CODE_ZIP
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package.rglob("*.py")):
            name = path.relative_to(package.parent).as_posix()
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return target


PARTS = ("all", "admin", "dbt")


def setup_statements(
    config: SetupConfig,
    *,
    project_dir: Path,
    code_zip: Path,
    part: str = "all",
    now: datetime | None = None,
) -> list[Statement]:
    """Every statement of ``part`` (the admin's, the dbt role's, or all) in the order to run."""
    if part not in PARTS:
        raise ConfigError(f"The part must be one of {', '.join(PARTS)}, not {part!r}.")
    macros = DdlMacros(project_dir)
    handler_file = (project_dir / PHONE_HANDLER).resolve()
    if not handler_file.exists():
        raise ConfigError(f"No {PHONE_HANDLER} under {project_dir}.")
    statements: list[Statement] = []
    if part in ("all", "admin"):
        statements += _admin_part(config, now or datetime.now(UTC))
    if part in ("all", "dbt"):
        statements += _dbt_role_part(config, macros, handler_file, code_zip.resolve())
    return statements


def _admin_part(config: SetupConfig, now: datetime) -> Iterable[Statement]:
    hosts = ", ".join(_literal(f"{host}:443") for host in config.hosts)
    secret_names = list(config.secrets.values())
    yield Statement(f"use role {config.admin_role}", "integrations need CREATE INTEGRATION")
    yield Statement(
        f"create or replace network rule {config.network_rule}\n"
        "    mode = egress\n"
        "    type = host_port\n"
        f"    value_list = ({hosts})\n"
        "    comment = 'spotify-audiences: the only hosts the sync procedure may reach'",
        "egress: Spotify Accounts (token refresh), the Ads API, and Google Cloud Storage "
        "(the signed upload URLs Spotify hands out)",
    )
    if config.auth == "oauth2":
        yield Statement(
            f"create or replace security integration {config.security_integration}\n"
            "    type = api_authentication\n"
            "    auth_type = oauth2\n"
            f"    oauth_client_id = {_secret(ENV_CLIENT_ID)}\n"
            f"    oauth_client_secret = {_secret(ENV_CLIENT_SECRET)}\n"
            f"    oauth_token_endpoint = '{DEFAULT_ACCOUNTS_URL}/api/token'\n"
            f"    oauth_authorization_endpoint = '{DEFAULT_ACCOUNTS_URL}/authorize'\n"
            "    oauth_client_auth_method = client_secret_basic\n"
            "    oauth_grant = 'AUTHORIZATION_CODE'\n"
            "    enabled = true\n"
            "    comment = 'spotify-audiences: Snowflake refreshes the Spotify access token'",
            "Snowflake holds the app's client id and secret and refreshes access tokens itself",
        )
        expiry = config.refresh_token_expiry or (now + REFRESH_TOKEN_LIFETIME)
        yield Statement(
            f"create or replace secret {config.secrets[OAUTH_ALIAS]}\n"
            "    type = oauth2\n"
            f"    api_authentication = {config.security_integration}\n"
            f"    oauth_refresh_token = {_secret(ENV_REFRESH_TOKEN)}\n"
            f"    oauth_refresh_token_expiry_time = '{expiry:%Y-%m-%d %H:%M:%S}'\n"
            "    comment = 'spotify-audiences: refresh token from spotify-audiences login --print'",
            "the refresh token; the procedure only ever sees short-lived access tokens",
        )
    else:
        for alias, env_var, what in (
            (CLIENT_ID_ALIAS, ENV_CLIENT_ID, "client id"),
            (CLIENT_SECRET_ALIAS, ENV_CLIENT_SECRET, "client secret"),
            (REFRESH_TOKEN_ALIAS, ENV_REFRESH_TOKEN, "refresh token"),
        ):
            yield Statement(
                f"create or replace secret {config.secrets[alias]}\n"
                "    type = generic_string\n"
                f"    secret_string = {_secret(env_var)}\n"
                f"    comment = 'spotify-audiences: Spotify {what}'",
                f"the Spotify {what}, read by the procedure's own token refresh",
            )
    auth_integrations = (
        f"    allowed_api_authentication_integrations = ({config.security_integration})\n"
        if config.auth == "oauth2"
        else ""
    )
    yield Statement(
        f"create or replace external access integration {config.integration}\n"
        f"    allowed_network_rules = ({config.network_rule})\n"
        f"{auth_integrations}"
        f"    allowed_authentication_secrets = ({', '.join(secret_names)})\n"
        "    enabled = true\n"
        "    comment = 'spotify-audiences: egress and secrets of the sync procedure'",
        "ties the hosts and the secrets together; a procedure reaches nothing else",
    )
    yield Statement(
        f"grant usage on integration {config.integration} to role {config.role}",
        "lets the dbt role create the procedure with this integration",
    )
    if config.secrets_home != config.home:
        database = config.secrets_home.split(".")[0]
        yield Statement(
            f"grant usage on database {database} to role {config.role}",
            "the secrets live in another schema",
        )
        yield Statement(
            f"grant usage on schema {config.secrets_home} to role {config.role}",
            "the secrets live in another schema",
        )
    for secret_name in secret_names:
        yield Statement(
            f"grant read on secret {secret_name} to role {config.role}",
            "lets the procedure's handler use the secret; no SQL can show its value",
        )
    yield Statement(
        f"grant execute task on account to role {config.role}",
        "lets the dbt role run and resume its task",
    )


def _dbt_role_part(
    config: SetupConfig, macros: DdlMacros, handler_file: Path, code_zip: Path
) -> Iterable[Statement]:
    yield Statement(f"use role {config.role}", "the dbt role owns the code, the marts and the task")
    yield Statement(macros.render("spotify_audiences_stage_ddl", config.stage), "holds the code")
    yield Statement(
        macros.render("spotify_audiences_put_sql", handler_file.as_posix(), config.stage),
        "the phone UDF's handler, the same file DuckDB registers",
    )
    yield Statement(
        macros.render("spotify_audiences_put_sql", code_zip.as_posix(), config.stage),
        "the spotify_audiences package, imported by the procedure",
    )
    yield Statement(
        macros.render("spotify_audiences_phone_udf_ddl", config.function, config.stage),
        "the UDF the models call; dbt's on-run-start recreates it from the same macro",
    )
    secrets = ", ".join(f"'{alias}' = {name}" for alias, name in config.secrets.items())
    yield Statement(
        f"create or replace procedure {config.procedure}(\n"
        "    audiences array default null,\n"
        f"    mart_schema varchar default {_literal(config.marts)},\n"
        f"    ad_account_id varchar default {_literal(config.ad_account_id.lower())},\n"
        "    options object default null\n"
        ")\n"
        "    returns array\n"
        "    language python\n"
        "    runtime_version = '3.11'\n"
        "    packages = ('snowflake-snowpark-python', 'requests')\n"
        f"    imports = ('@{config.stage}/{CODE_ZIP}')\n"
        f"    handler = '{config.handler}'\n"
        f"    external_access_integrations = ({config.integration})\n"
        f"    secrets = ({secrets})\n"
        "    execute as owner\n"
        "    comment = 'spotify-audiences: mirror the marts to Spotify custom audiences'",
        "reads the marts with its own session and sends only hashes, through the integration",
    )
    call_sql = macros.render("spotify_audiences_call_sql", config.procedure)
    yield Statement(
        macros.render(
            "spotify_audiences_task_ddl", config.task, config.warehouse, config.cron, call_sql
        ),
        "the schedule; a new task stays suspended until resumed",
    )
    if config.resume_task:
        yield Statement(
            macros.render("spotify_audiences_task_resume_sql", config.task),
            "start the schedule",
        )
    for role in config.grant_to:
        yield Statement(
            f"grant usage on procedure {config.procedure_signature} to role {role}",
            "lets this role run a sync (it needs no access to the secrets)",
        )
        yield Statement(
            f"grant usage on function {config.function}(varchar, varchar) to role {role}",
            "lets this role build the models with the phone UDF",
        )


def render_script(config: SetupConfig, statements: Iterable[Statement]) -> str:
    """The statements as one reviewable SQL script, with the facts a reviewer asks for first."""
    statements = list(statements)
    secret_vars = sorted({v for s in statements for v in s.secret_env_vars})
    secret_source = (
        f"--   from {', '.join(secret_vars)}" if secret_vars else "--   (created by the admin part)"
    )
    lines = [
        "-- spotify-audiences: Snowflake setup for the in-warehouse sync",
        "--",
        f"-- Hosts the sync procedure can reach (network rule {config.network_rule}, HTTPS only):",
        *(f"--   {host}:443" for host in config.hosts),
        "-- Secrets (values bound from the environment when applied, never printed):",
        *(f"--   {name} (alias '{alias}')" for alias, name in config.secrets.items()),
        secret_source,
        "-- Roles:",
        f"--   {config.admin_role}: creates the network rule, secrets and integrations",
        f"--   {config.role}: the dbt role; owns the stage, UDF, procedure and task, and reads",
        f"--     the marts in {config.marts}. The procedure runs with its owner's rights.",
        *(f"--   {role}: may call the procedure and the UDF" for role in config.grant_to),
        f"-- Task {config.task}: '{config.cron}' on warehouse {config.warehouse}"
        + ("" if config.resume_task else " (left suspended; see the end)"),
        "",
    ]
    for statement in statements:
        lines.append(f"-- {statement.why}")
        lines.append(statement.printable() + ";")
        lines.append("")
    if not config.resume_task and any(
        s.sql.startswith("create or replace task") for s in statements
    ):
        lines.append("-- To start the schedule:")
        lines.append(f"-- alter task {config.task} resume;")
    return "\n".join(lines).rstrip() + "\n"


def secret_values(statements: Iterable[Statement], environ: Mapping[str, str]) -> dict[str, str]:
    """The secret values the statements need, from the environment; names what is missing."""
    needed = sorted({v for s in statements for v in s.secret_env_vars})
    missing = [name for name in needed if not environ.get(name, "").strip()]
    if missing:
        raise ConfigError(
            "Set " + ", ".join(missing) + " to apply the setup (the values go into Snowflake "
            "secrets; run `spotify-audiences login --print` for a refresh token)."
        )
    return {name: environ[name].strip() for name in needed}


def apply_statements(
    cursor: object,
    statements: Iterable[Statement],
    values: Mapping[str, str],
    *,
    echo: Callable[[str], None],
) -> None:
    """Run each statement on a Snowflake DB-API cursor; ``echo`` sees no secret value.

    A statement that fails raises :class:`WarehouseError` naming it, with the secret values
    masked in Snowflake's message.
    """
    for statement in statements:
        sql, names = statement.bindable()
        first_line = statement.printable().splitlines()[0]
        echo(first_line)
        try:
            if names:
                cursor.execute(sql, [values[name] for name in names])  # type: ignore[attr-defined]
            else:
                cursor.execute(sql)  # type: ignore[attr-defined]
        except Exception as exc:  # the connector's errors; anything else is as fatal here
            message = str(exc)
            for value in values.values():
                message = message.replace(value, "********")
            raise WarehouseError(f"Snowflake refused `{first_line} ...`: {message}") from None
