"""Every Snowflake statement the in-warehouse sync needs, for an admin to read and run.

Four roles, each doing only what it must (every grant is a statement of its own):

1. ``bootstrap`` (ACCOUNTADMIN, once): the few account-level grants no narrower role can give.
   It creates the setup's admin role with ``CREATE INTEGRATION`` (instead of running the setup
   as ACCOUNTADMIN), the owner role of the procedure, ``EXECUTE TASK`` for the dbt role, USAGE
   on the databases and the future-tables SELECT on the mart schemas.
2. ``admin`` (the admin role): an admin-owned schema holding the network rule and the secrets,
   the OAuth security integration, the external access integration, and the grants that let
   the owner role use them.
3. ``dbt`` (the dbt role, which owns the marts): the stage, the staged code (the phone UDF's
   handler, the pinned phonenumbers, this package), the phone UDF, and the grants the owner
   role needs on the marts and the stage.
4. ``owner`` (a dedicated narrow role, not the dbt role): the procedure, ``execute as owner``,
   with the allow-list of mart schemas and ad accounts written into its handler; then
   ``task`` (the dbt role) schedules it.

Secret values never appear in the statements this module renders: they are placeholders like
``'<SPOTIFY_CLIENT_SECRET>'`` when printed, and bound server-side (``?``) when applied. The
phone UDF, the task and the procedure call come from the same Jinja macros that dbt runs
(``macros/snowflake/spotify_audiences_ddl.sql``, shipped inside the package).
"""

from __future__ import annotations

import re
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
from spotify_audiences.snowflake.policy import ProcedurePolicy
from spotify_audiences.snowflake.setup.staged import (
    CODE_ZIP,
    build_code_zip,
    build_phonenumbers_zip,
    ddl_macros_source,
    phone_handler_file,
    pinned_phonenumbers_version,
)

HOSTS = ("accounts.spotify.com", "api-partner.spotify.com", "storage.googleapis.com")
AUTH_MODES = ("oauth2", "generic")
ENV_CLIENT_ID = "SPOTIFY_CLIENT_ID"
ENV_CLIENT_SECRET = "SPOTIFY_CLIENT_SECRET"  # noqa: S105 - the variable's name
ENV_REFRESH_TOKEN = "SPOTIFY_REFRESH_TOKEN"  # noqa: S105
EXPIRY_PARAM = "OAUTH_REFRESH_TOKEN_EXPIRY_TIME"
# Spotify refresh tokens expire six months after the user authorized the app.
REFRESH_TOKEN_LIFETIME = timedelta(days=180)
DEFAULT_ADMIN_ROLE = "SPOTIFY_AUDIENCES_ADMIN"
DEFAULT_OWNER_ROLE = "SPOTIFY_AUDIENCES_OWNER"
DEFAULT_BOOTSTRAP_ROLE = "ACCOUNTADMIN"
SECRETS_SCHEMA = "SPOTIFY_AUDIENCES_SECRETS"
DEFAULT_TASK_TIMEOUT_MINUTES = 240
DEFAULT_SUSPEND_AFTER_FAILURES = 10
PARTS = ("all", "bootstrap", "admin", "dbt", "owner", "task")

_IDENTIFIER = re.compile(r'^[A-Za-z_][A-Za-z0-9_$]*$|^"[^"]+"$')
_MARK = re.compile(r"\x00([A-Z_]+)\x00")


def _bound(name: str) -> str:
    """Where a bound value goes: a placeholder when printed, ``?`` when applied."""
    return f"\x00{name}\x00"


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Statement:
    """One statement with the reason it is there.

    Values marked with :func:`_bound` are bound when applied: secrets come from the environment
    variable of that name, other values from ``params``.
    """

    sql: str
    why: str
    part: str = "all"
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def bound_names(self) -> list[str]:
        """The bound values in the order of their ``?``."""
        return _MARK.findall(self.sql)

    @property
    def secret_env_vars(self) -> list[str]:
        """The environment variables whose (secret) values this statement carries."""
        return [name for name in self.bound_names if name not in self.params]

    def printable(self) -> str:
        """The statement with placeholders for secrets and literals for the other values."""

        def show(match: re.Match[str]) -> str:
            name = match.group(1)
            return _literal(self.params[name]) if name in self.params else f"'<{name}>'"

        return _MARK.sub(show, self.sql)

    def bindable(self) -> tuple[str, list[str]]:
        """The statement for server-side binding (qmark), and the value names in order."""
        return _MARK.sub("?", self.sql), self.bound_names

    def inlined(self, values: Mapping[str, str]) -> str:
        """The statement with every value as a literal (only where Snowflake refuses ``?``)."""
        return _MARK.sub(lambda m: _literal({**values, **self.params}[m.group(1)]), self.sql)


@dataclass(frozen=True)
class SetupConfig:
    """What the setup needs to know; names of the objects follow from it."""

    database: str
    schema: str
    role: str
    warehouse: str
    ad_account_id: str
    admin_role: str = DEFAULT_ADMIN_ROLE
    owner_role: str = DEFAULT_OWNER_ROLE
    bootstrap_role: str = DEFAULT_BOOTSTRAP_ROLE
    auth: str = "oauth2"
    mart_schemas: tuple[str, ...] = ()
    allowed_ad_accounts: tuple[str, ...] = ()
    secrets_schema: str | None = None
    cron: str = "0 6 * * * UTC"
    resume_task: bool = False
    grant_to: tuple[str, ...] = ()
    refresh_token_expiry: datetime | None = None
    task_timeout_minutes: int = DEFAULT_TASK_TIMEOUT_MINUTES
    suspend_after_failures: int = DEFAULT_SUSPEND_AFTER_FAILURES
    error_integration: str | None = None
    hosts: tuple[str, ...] = field(default=HOSTS)

    def __post_init__(self) -> None:
        for what, value in (
            ("database", self.database),
            ("schema", self.schema),
            ("role", self.role),
            ("warehouse", self.warehouse),
            ("admin role", self.admin_role),
            ("owner role", self.owner_role),
            ("bootstrap role", self.bootstrap_role),
            *(("role to grant to", r) for r in self.grant_to),
            *((("error integration", self.error_integration),) if self.error_integration else ()),
        ):
            if not value or not _IDENTIFIER.match(value):
                raise ConfigError(f"The {what} {value!r} is not a plain Snowflake identifier.")
        if self.owner_role.upper() in (self.role.upper(), self.admin_role.upper()):
            raise ConfigError(
                "The owner role of the procedure must be a role of its own, not the dbt or admin "
                "role: it holds the integration, and any code its holders write could use it."
            )
        for what, value in (
            *(("mart schema", s) for s in self.mart_schemas),
            ("secrets schema", self.secrets_schema),
        ):
            if value is not None and not (
                len(value.split(".")) == 2 and all(_IDENTIFIER.match(p) for p in value.split("."))
            ):
                raise ConfigError(f"The {what} {value!r} must be database.schema.")
        if self.auth not in AUTH_MODES:
            raise ConfigError(f"--auth must be one of {', '.join(AUTH_MODES)}, not {self.auth!r}.")
        validate_uuid(self.ad_account_id, what="The ad account id", env="SPOTIFY_AD_ACCOUNT_ID")
        for account in self.allowed_ad_accounts:
            validate_uuid(account, what="An allowed ad account id")
        if len(self.cron.split()) != 6:
            raise ConfigError(
                f"The schedule {self.cron!r} must be five CRON fields and a time zone, "
                "e.g. '0 6 * * * UTC'."
            )
        if self.task_timeout_minutes < 1 or self.suspend_after_failures < 0:
            raise ConfigError("The task timeout must be a positive number of minutes.")

    @property
    def home(self) -> str:
        """``database.schema`` holding the stage, the UDF, the procedure and the task."""
        return f"{self.database}.{self.schema}"

    @property
    def secrets_home(self) -> str:
        """``database.schema`` holding the network rule and the secrets (admin-owned)."""
        return self.secrets_schema or f"{self.database}.{SECRETS_SCHEMA}"

    @property
    def marts(self) -> tuple[str, ...]:
        """Every ``database.schema`` the procedure may read; the first is its default."""
        return self.mart_schemas or (self.home,)

    @property
    def policy(self) -> ProcedurePolicy:
        """The allow-list written into the procedure's handler."""
        accounts = dict.fromkeys(a.lower() for a in (self.ad_account_id, *self.allowed_ad_accounts))
        return ProcedurePolicy(mart_schemas=self.marts, ad_account_ids=tuple(accounts))

    @property
    def databases(self) -> list[str]:
        """Every database the owner role must be able to use."""
        names = [
            self.database,
            self.secrets_home.split(".")[0],
            *(m.split(".")[0] for m in self.marts),
        ]
        return list(dict.fromkeys(names))

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
    def credentials_function(self) -> str:
        return "oauth_secret" if self.auth == "oauth2" else "generic_secrets"


class DdlMacros:
    """The plain-Jinja macros of ``spotify_audiences_ddl.sql``, rendered as dbt renders them."""

    def __init__(self, source: str | None = None) -> None:
        import jinja2

        environment = jinja2.Environment(  # noqa: S701 - SQL, not HTML
            extensions=["jinja2.ext.do"], undefined=jinja2.StrictUndefined
        )
        # the macros call each other through the package namespace, as dbt requires of a package
        environment.globals["spotify_audiences"] = self
        self._module = environment.from_string(
            source if source is not None else ddl_macros_source()
        ).module

    def __getattr__(self, name: str) -> object:
        return getattr(self.__dict__["_module"], name)

    def render(self, name: str, *args: object) -> str:
        """The output of macro ``name``, trimmed."""
        return str(getattr(self._module, name)(*args)).strip()


@dataclass(frozen=True)
class StagedFiles:
    """The local files the dbt role's part PUTs to the stage."""

    phone_handler: Path
    phonenumbers_zip: Path
    code_zip: Path
    phonenumbers_version: str

    @classmethod
    def build(cls, directory: Path) -> StagedFiles:
        """Build the zips into ``directory`` from the installed packages."""
        return cls(
            phone_handler=phone_handler_file(),
            phonenumbers_zip=build_phonenumbers_zip(directory).resolve(),
            code_zip=build_code_zip(directory).resolve(),
            phonenumbers_version=pinned_phonenumbers_version(),
        )


def setup_statements(
    config: SetupConfig,
    *,
    files: StagedFiles,
    part: str = "all",
    now: datetime | None = None,
) -> list[Statement]:
    """Every statement of ``part`` in the order to run."""
    if part not in PARTS:
        raise ConfigError(f"The part must be one of {', '.join(PARTS)}, not {part!r}.")
    macros = DdlMacros()
    builders = {
        "bootstrap": lambda: _bootstrap_part(config),
        "admin": lambda: _admin_part(config, now or datetime.now(UTC)),
        "dbt": lambda: _dbt_role_part(config, macros, files),
        "owner": lambda: _owner_part(config),
        "task": lambda: _task_part(config, macros),
    }
    statements: list[Statement] = []
    for name, build in builders.items():
        if part in ("all", name):
            statements += [Statement(s.sql, s.why, part=name, params=s.params) for s in build()]
    return statements


def _bootstrap_part(config: SetupConfig) -> Iterable[Statement]:
    admin, owner = config.admin_role, config.owner_role
    yield Statement(
        f"use role {config.bootstrap_role}",
        "once, as the account admin: account-level grants no narrower role can give",
    )
    if admin.upper() != config.bootstrap_role.upper():
        yield Statement(
            f"create role if not exists {admin}\n"
            "    comment = 'spotify-audiences: creates the integrations and owns the secrets'",
            "the setup's admin role, so that the rest needs no ACCOUNTADMIN",
        )
        yield Statement(
            f"grant create integration on account to role {admin}",
            "least privilege: CREATE SECURITY INTEGRATION and CREATE EXTERNAL ACCESS INTEGRATION "
            "need it, and it is the only account-level privilege the admin role gets",
        )
        yield Statement(f"grant role {admin} to role SYSADMIN", "keeps the role in the hierarchy")
    secrets_database = config.secrets_home.split(".")[0]
    yield Statement(
        f"grant create schema on database {secrets_database} to role {admin}",
        "the admin role keeps the secrets and the network rule in a schema of its own",
    )
    yield Statement(
        f"create role if not exists {owner}\n"
        "    comment = 'spotify-audiences: owns the sync procedure (execute as owner)'",
        "a dedicated owner for the procedure: it can read the marts and use the integration, "
        "nothing else; the dbt role does not get it",
    )
    yield Statement(
        f"grant role {owner} to role {admin}", "the admin creates the procedure as the owner role"
    )
    for database in config.databases:
        yield Statement(
            f"grant usage on database {database} to role {owner}",
            "the owner role reaches its schemas",
        )
    for marts in config.marts:
        yield Statement(
            f"grant select on future tables in schema {marts} to role {owner}",
            "dbt replaces the marts on every build; a future grant gives each new table's "
            "SELECT to the owner role",
        )
    yield Statement(
        f"grant execute task on account to role {config.role}",
        "the dbt role owns the task and resumes it",
    )
    for role in config.grant_to:
        yield Statement(
            f"grant usage on database {config.database} to role {role}",
            "a role that may call the sync needs the database",
        )


def _admin_part(config: SetupConfig, now: datetime) -> Iterable[Statement]:
    hosts = ", ".join(_literal(f"{host}:443") for host in config.hosts)
    secret_names = list(config.secrets.values())
    owner = config.owner_role
    yield Statement(
        f"use role {config.admin_role}",
        "CREATE INTEGRATION and the secrets' schema; not ACCOUNTADMIN",
    )
    yield Statement(
        f"create schema if not exists {config.secrets_home}\n"
        "    comment = 'spotify-audiences: secrets and network rule, owned by the admin role'",
        "admin-owned: the dbt role cannot create or read anything here",
    )
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
            f"    oauth_client_id = {_bound(ENV_CLIENT_ID)}\n"
            f"    oauth_client_secret = {_bound(ENV_CLIENT_SECRET)}\n"
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
            f"    oauth_refresh_token = {_bound(ENV_REFRESH_TOKEN)}\n"
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
                f"    secret_string = {_bound(env_var)}\n"
                f"    comment = 'spotify-audiences: Spotify {what}'",
                f"FALLBACK (--auth generic): the Spotify {what} as a generic string, read by the "
                "procedure's own token refresh; Snowflake advises OAUTH2 secrets for OAuth tokens",
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
        f"grant usage on schema {config.secrets_home} to role {owner}",
        "the owner role reaches the secrets (it can use them, never read them with SQL)",
    )
    for secret_name in secret_names:
        yield Statement(
            f"grant read on secret {secret_name} to role {owner}",
            "lets the procedure's handler use the secret; no SQL can show its value",
        )
    yield Statement(
        f"grant usage on integration {config.integration} to role {owner}",
        "lets the owner role create the procedure with this integration (the dbt role cannot)",
    )
    if config.error_integration:
        yield Statement(
            f"grant usage on integration {config.error_integration} to role {config.role}",
            "the task (owned by the dbt role) reports failed runs through this notification "
            "integration",
        )


def _dbt_role_part(
    config: SetupConfig, macros: DdlMacros, files: StagedFiles
) -> Iterable[Statement]:
    owner = config.owner_role
    yield Statement(f"use role {config.role}", "the dbt role owns the marts, the stage and the UDF")
    yield Statement(macros.render("spotify_audiences_stage_ddl", config.stage), "holds the code")
    yield Statement(
        macros.render("spotify_audiences_put_sql", files.phone_handler.as_posix(), config.stage),
        "the phone UDF's handler, the same file DuckDB registers",
    )
    yield Statement(
        macros.render("spotify_audiences_put_sql", files.phonenumbers_zip.as_posix(), config.stage),
        f"phonenumbers {files.phonenumbers_version}, the version the SQL fast path was generated "
        "from, so the UDF answers exactly as DuckDB does",
    )
    yield Statement(
        macros.render("spotify_audiences_put_sql", files.code_zip.as_posix(), config.stage),
        "the spotify_audiences package, imported by the procedure",
    )
    yield Statement(
        macros.render(
            "spotify_audiences_phone_udf_ddl",
            config.function,
            config.stage,
            files.phonenumbers_version,
        ),
        "the UDF the models call; dbt's on-run-start recreates it from the same macro",
    )
    yield Statement(
        f"grant usage on schema {config.home} to role {owner}", "the owner role reaches the stage"
    )
    yield Statement(
        f"grant create procedure on schema {config.home} to role {owner}",
        "the owner role creates the sync procedure here",
    )
    yield Statement(
        f"grant read on stage {config.stage} to role {owner}",
        "the procedure imports spotify_audiences.zip from the stage",
    )
    for marts in config.marts:
        if marts != config.home:
            yield Statement(
                f"grant usage on schema {marts} to role {owner}", "the procedure reads the marts"
            )
        yield Statement(
            f"grant select on all tables in schema {marts} to role {owner}",
            "the marts already built (the future grant covers the next builds)",
        )
        yield Statement(
            f"grant create table on schema {marts} to role {owner}",
            "the procedure writes its ledger tables beside the marts",
        )
    for role in config.grant_to:
        yield Statement(
            f"grant usage on schema {config.home} to role {role}",
            "a role that may call the sync needs the schema",
        )
        yield Statement(
            f"grant usage on function {config.function}(varchar, varchar) to role {role}",
            "lets this role build the models with the phone UDF (kept by copy grants)",
        )


def procedure_handler_source(config: SetupConfig) -> str:
    """The handler written into the procedure: the core's ``run`` with the fixed allow-list."""
    policy = config.policy
    return (
        "from spotify_audiences.snowflake import procedure\n"
        f"from spotify_audiences.snowflake.credentials import {config.credentials_function}\n"
        "from spotify_audiences.snowflake.policy import ProcedurePolicy\n"
        "\n"
        "# fixed by spotify-audiences snowflake-setup; callers cannot change it\n"
        "POLICY = ProcedurePolicy(\n"
        f"    mart_schemas={policy.mart_schemas!r},\n"
        f"    ad_account_ids={policy.ad_account_ids!r},\n"
        ")\n"
        "\n"
        "\n"
        "def sync(session, audiences, mart_schema, ad_account_id, options):\n"
        "    return procedure.run(\n"
        "        session, audiences, mart_schema, ad_account_id, options,\n"
        f"        {config.credentials_function}(), policy=POLICY,\n"
        "    )\n"
    )


def _owner_part(config: SetupConfig) -> Iterable[Statement]:
    secrets = ", ".join(f"'{alias}' = {name}" for alias, name in config.secrets.items())
    yield Statement(
        f"use role {config.owner_role}",
        "the procedure's owner: its rights are all a caller borrows",
    )
    yield Statement(
        f"create or replace procedure {config.procedure}(\n"
        "    audiences array default null,\n"
        "    mart_schema varchar default null,\n"
        "    ad_account_id varchar default null,\n"
        "    options object default null\n"
        ")\n"
        "    copy grants\n"
        "    returns array\n"
        "    language python\n"
        "    runtime_version = '3.11'\n"
        "    packages = ('snowflake-snowpark-python', 'requests')\n"
        f"    imports = ('@{config.stage}/{CODE_ZIP}')\n"
        "    handler = 'sync'\n"
        f"    external_access_integrations = ({config.integration})\n"
        f"    secrets = ({secrets})\n"
        "    execute as owner\n"
        "    comment = 'spotify-audiences: mirror the marts to Spotify custom audiences'\n"
        f"as $$\n{procedure_handler_source(config)}$$",
        "reads only the allowed mart schemas, syncs only to the allowed ad accounts, and talks "
        "only to Spotify's endpoints; copy grants keeps the grants when it is replaced",
    )
    for role in (config.role, *config.grant_to):
        yield Statement(
            f"grant usage on procedure {config.procedure_signature} to role {role}",
            "lets this role run a sync (the post-hook and the task run as the dbt role); it "
            "needs no access to the secrets",
        )


def _task_part(config: SetupConfig, macros: DdlMacros) -> Iterable[Statement]:
    yield Statement(f"use role {config.role}", "the dbt role owns the task")
    call_sql = macros.render("spotify_audiences_call_sql", config.procedure)
    yield Statement(
        macros.render(
            "spotify_audiences_task_ddl",
            config.task,
            config.warehouse,
            config.cron,
            call_sql,
            config.task_timeout_minutes * 60_000,
            config.suspend_after_failures,
            config.error_integration,
        ),
        "the schedule; a new task stays suspended until resumed. After "
        f"{config.suspend_after_failures} failed runs in a row Snowflake suspends it"
        + (
            f"; failures are reported through {config.error_integration}"
            if config.error_integration
            else " silently (pass --error-integration to hear about failures)"
        ),
    )
    if config.resume_task:
        yield Statement(
            macros.render("spotify_audiences_task_resume_sql", config.task),
            "start the schedule",
        )


def rotate_statements(
    config: SetupConfig, *, expiry: datetime | None = None, now: datetime | None = None
) -> list[Statement]:
    """Replace the refresh token in its secret, nothing else (no integration is recreated)."""
    expires = expiry or ((now or datetime.now(UTC)) + REFRESH_TOKEN_LIFETIME)
    statements = [
        Statement(f"use role {config.admin_role}", "the admin role owns the secrets", "admin")
    ]
    if config.auth == "oauth2":
        statements.append(
            Statement(
                f"alter secret {config.secrets[OAUTH_ALIAS]} set\n"
                f"    oauth_refresh_token = {_bound(ENV_REFRESH_TOKEN)}\n"
                f"    oauth_refresh_token_expiry_time = {_bound(EXPIRY_PARAM)}",
                "the new refresh token and when it expires, both bound; the integration, the "
                "external access integration and every grant stay as they are",
                "admin",
                {EXPIRY_PARAM: f"{expires:%Y-%m-%d %H:%M:%S}"},
            )
        )
    else:
        statements.append(
            Statement(
                f"alter secret {config.secrets[REFRESH_TOKEN_ALIAS]} set\n"
                f"    secret_string = {_bound(ENV_REFRESH_TOKEN)}",
                "the new refresh token, bound; every grant stays as it is",
                "admin",
            )
        )
    return statements


PREREQUISITES = (
    "-- Before you run this (once per account):",
    "--   * An ORGADMIN acknowledges Anaconda's External Offerings Terms (Snowsight: Admin >",
    "--     Billing & Terms > Anaconda): without it every PACKAGES clause fails. The UDF asks",
    "--     for pandas and the procedure for snowflake-snowpark-python and requests;",
    "--     phonenumbers is staged as a zip, never taken from PACKAGES.",
    "--   * The user running it holds the roles of each part (or runs --part per person).",
)


def render_script(config: SetupConfig, statements: Iterable[Statement]) -> str:
    """The statements as one reviewable SQL script, with the facts a reviewer asks for first."""
    statements = list(statements)
    secret_vars = sorted({v for s in statements for v in s.secret_env_vars})
    secret_source = (
        f"--   values from {', '.join(secret_vars)}, bound when applied (never printed)"
        if secret_vars
        else "--   (created by the admin part)"
    )
    policy = config.policy
    lines = [
        "-- spotify-audiences: Snowflake setup for the in-warehouse sync",
        "--",
        *PREREQUISITES,
        "--",
        f"-- Hosts the sync procedure can reach (network rule {config.network_rule}, HTTPS only):",
        *(f"--   {host}:443" for host in config.hosts),
        f"-- Secrets, in the admin-owned schema {config.secrets_home}:",
        *(f"--   {name} (alias '{alias}')" for alias, name in config.secrets.items()),
        secret_source,
        "-- Roles (least privilege):",
        f"--   {config.bootstrap_role}: only the bootstrap part, once: account-level grants.",
        f"--   {config.admin_role}: CREATE INTEGRATION and nothing else account-wide (not",
        "--     ACCOUNTADMIN); owns the network rule, the secrets and the integrations.",
        f"--   {config.owner_role}: owns the procedure (execute as owner); may read the marts,",
        "--     write the ledger and use the integration. Granted to no one but the admin role.",
        f"--   {config.role}: the dbt role; owns the marts, the stage, the UDF and the task. It",
        "--     gets no access to the secrets or the integration.",
        *(f"--   {role}: may call the procedure and the UDF" for role in config.grant_to),
        "-- The procedure's allow-list (callers cannot change it):",
        f"--   mart schemas: {', '.join(policy.mart_schemas)} (the first is the default)",
        f"--   ad accounts:  {', '.join(policy.ad_account_ids)} (the first is the default)",
        f"-- Task {config.task}: '{config.cron}' on warehouse {config.warehouse}, at most "
        f"{config.task_timeout_minutes} minutes a run"
        + ("" if config.resume_task else " (left suspended; see the end)"),
        "",
    ]
    part = None
    for statement in statements:
        if statement.part != part:
            part = statement.part
            lines.append(f"-- ==== --part {part} " + "=" * 60)
            lines.append("")
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


def _refuses_binding(exc: Exception) -> bool:
    """Snowflake's answer when a statement does not take a bind variable where ``?`` stands."""
    message = str(exc)
    syntax_error_at_mark = getattr(exc, "errno", None) == 1003 and "'?'" in message
    return syntax_error_at_mark or "bind variable" in message.lower()


def apply_statements(
    cursor: object,
    statements: Iterable[Statement],
    values: Mapping[str, str],
    *,
    echo: Callable[[str], None],
) -> None:
    """Run each statement on a Snowflake DB-API cursor; ``echo`` sees no secret value.

    The cursor's connection must use ``paramstyle='qmark'``: values are then bound on the server
    and never become part of the statement text. Where Snowflake refuses a bind variable in a
    statement, the value is sent as a literal once more and ``echo`` says so (see the docs on
    what query history keeps). A statement that fails raises :class:`WarehouseError` naming
    it, with the secret values masked in Snowflake's message.
    """
    for statement in statements:
        sql, names = statement.bindable()
        first_line = statement.printable().splitlines()[0]
        echo(first_line)
        try:
            if names:
                bound = [{**values, **statement.params}[name] for name in names]
                try:
                    cursor.execute(sql, bound)  # type: ignore[attr-defined]
                except Exception as exc:
                    if not _refuses_binding(exc):
                        raise
                    echo(
                        f"  Snowflake takes no bind variable in `{first_line}`: sending the "
                        "value in the statement text instead (see docs/snowflake.md, query history)"
                    )
                    cursor.execute(statement.inlined(values))  # type: ignore[attr-defined]
            else:
                cursor.execute(sql)  # type: ignore[attr-defined]
        except Exception as exc:  # the connector's errors; anything else is as fatal here
            message = str(exc)
            for value in values.values():
                message = message.replace(value, "********")
            raise WarehouseError(f"Snowflake refused `{first_line} ...`: {message}") from None
