"""``spotify-audiences snowflake-setup``: print or apply the Snowflake setup statements."""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from spotify_audiences.errors import ConfigError, SpotifyAudiencesError
from spotify_audiences.snowflake.setup.sql import (
    AUTH_MODES,
    DEFAULT_ADMIN_ROLE,
    DEFAULT_BOOTSTRAP_ROLE,
    DEFAULT_OWNER_ROLE,
    DEFAULT_SUSPEND_AFTER_FAILURES,
    DEFAULT_TASK_TIMEOUT_MINUTES,
    PARTS,
    SetupConfig,
    StagedFiles,
    apply_statements,
    render_script,
    rotate_statements,
    secret_values,
    setup_statements,
)
from spotify_audiences.warehouse import load_dbt_target


def _required(value: str | None, option: str, env_var: str | None = None) -> str:
    if value:
        return value
    source = f" (or set {env_var})" if env_var else ""
    raise ConfigError(f"Pass {option}{source}.")


def connect_with_profile(
    project_dir: Path,
    profiles_dir: Path | None,
    target: str,
    *,
    paramstyle: str = "qmark",
    query_tag: str = "spotify-audiences snowflake-setup",
) -> Any:
    """A Snowflake connection opened as dbt opens it, from the profile's target.

    ``qmark`` makes the connector bind values on the server: they are sent beside the
    statement, never spliced into its text.
    """
    from spotify_audiences.snowflake.connector import connect

    found = load_dbt_target(project_dir, profiles_dir, target)
    if found.type != "snowflake":
        raise ConfigError(f"Target {found.name!r} is a {found.type!r} target, not snowflake.")
    return connect(found, paramstyle=paramstyle, query_tag=query_tag)


@click.command("snowflake-setup")
@click.option("--print", "mode", flag_value="print", help="Write every statement to stdout.")
@click.option(
    "--apply", "mode", flag_value="apply", help="Run them with the dbt profile's connection."
)
@click.option(
    "--rotate-refresh-token",
    is_flag=True,
    help="Only replace the refresh token in its secret (ALTER SECRET, value bound from "
    "SPOTIFY_REFRESH_TOKEN); nothing is recreated.",
)
@click.option(
    "--project-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where the dbt profile is looked up and target/ is (the statements come from the "
    "installed package).",
)
@click.option(
    "--profiles-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where profiles.yml is (default: DBT_PROFILES_DIR, the project, then ~/.dbt).",
)
@click.option(
    "--target", default="snowflake", show_default=True, help="dbt target --apply connects with."
)
@click.option(
    "--auth",
    type=click.Choice(AUTH_MODES),
    default="oauth2",
    show_default=True,
    help="oauth2: Snowflake refreshes the token (security integration + OAUTH2 secret). "
    "generic (fallback only): client id, secret and refresh token as generic-string secrets, "
    "which Snowflake advises against for OAuth tokens.",
)
@click.option(
    "--ad-account-id", envvar="SPOTIFY_AD_ACCOUNT_ID", help="Default (and allowed) ad account."
)
@click.option(
    "--allow-ad-account",
    "allowed_ad_accounts",
    multiple=True,
    metavar="ID",
    help="Another ad account the procedure may sync to (repeatable).",
)
@click.option("--database", envvar="SNOWFLAKE_DATABASE", help="Where the marts and code live.")
@click.option("--schema", envvar="SNOWFLAKE_SCHEMA", help="Schema of the marts and the code.")
@click.option("--role", envvar="SNOWFLAKE_ROLE", help="The dbt role.")
@click.option("--warehouse", envvar="SNOWFLAKE_WAREHOUSE", help="Warehouse of the task.")
@click.option(
    "--admin-role",
    default=DEFAULT_ADMIN_ROLE,
    show_default=True,
    help="Creates the integrations; gets CREATE INTEGRATION, not ACCOUNTADMIN.",
)
@click.option(
    "--owner-role",
    default=DEFAULT_OWNER_ROLE,
    show_default=True,
    help="The dedicated role that owns the procedure (not the dbt role).",
)
@click.option(
    "--bootstrap-role",
    default=DEFAULT_BOOTSTRAP_ROLE,
    show_default=True,
    help="Runs the one-time account-level grants (--part bootstrap).",
)
@click.option(
    "--mart-schema",
    "mart_schemas",
    multiple=True,
    metavar="DB.SCHEMA",
    help="A schema of marts the procedure may read (repeatable; the first is the default; "
    "default: --database.--schema).",
)
@click.option(
    "--secrets-schema",
    help="database.schema for the secrets and the network rule "
    "(default: <database>.SPOTIFY_AUDIENCES_SECRETS, owned by the admin role).",
)
@click.option(
    "--cron", default="0 6 * * * UTC", show_default=True, help="The task's CRON and time zone."
)
@click.option("--resume-task", is_flag=True, help="Start the schedule (tasks start suspended).")
@click.option("--grant-to", multiple=True, metavar="ROLE", help="Also let ROLE call the sync.")
@click.option(
    "--task-timeout-minutes",
    type=click.IntRange(1, 24 * 60),
    default=DEFAULT_TASK_TIMEOUT_MINUTES,
    show_default=True,
    help="USER_TASK_TIMEOUT_MS of the task (Snowflake's default is one hour).",
)
@click.option(
    "--suspend-after-failures",
    type=click.IntRange(0, 1_000_000),
    default=DEFAULT_SUSPEND_AFTER_FAILURES,
    show_default=True,
    help="SUSPEND_TASK_AFTER_NUM_FAILURES: failed runs in a row before Snowflake suspends it "
    "(0: never).",
)
@click.option(
    "--error-integration",
    metavar="NAME",
    help="A notification integration the task reports failed runs to (ERROR_INTEGRATION).",
)
@click.option(
    "--refresh-token-expiry",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%d %H:%M:%S"]),
    help="oauth2: when the refresh token expires (default: 180 days from now).",
)
@click.option(
    "--part",
    type=click.Choice(PARTS),
    default="all",
    show_default=True,
    help="Only the statements of one role: bootstrap (ACCOUNTADMIN, once), admin, dbt, owner, "
    "task; in that order.",
)
@click.option(
    "--build-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the code zip is written (default: <project>/target/snowflake).",
)
def snowflake_setup(
    mode: str | None,
    rotate_refresh_token: bool,
    project_dir: Path,
    profiles_dir: Path | None,
    target: str,
    auth: str,
    ad_account_id: str | None,
    allowed_ad_accounts: tuple[str, ...],
    database: str | None,
    schema: str | None,
    role: str | None,
    warehouse: str | None,
    admin_role: str,
    owner_role: str,
    bootstrap_role: str,
    mart_schemas: tuple[str, ...],
    secrets_schema: str | None,
    cron: str,
    resume_task: bool,
    grant_to: tuple[str, ...],
    task_timeout_minutes: int,
    suspend_after_failures: int,
    error_integration: str | None,
    refresh_token_expiry: datetime | None,
    part: str,
    build_dir: Path | None,
) -> None:
    """Set up the sync inside Snowflake: egress, secrets, code, UDF, procedure and task.

    --print writes every statement for an admin to review, with placeholders for the secret
    values. --apply runs them through the Snowflake connection of the dbt profile, binding
    SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET and SPOTIFY_REFRESH_TOKEN from the environment
    on the server. --rotate-refresh-token replaces only the refresh token.
    """
    try:
        if mode is None:
            raise ConfigError("Pass --print to review the statements or --apply to run them.")
        config = SetupConfig(
            database=_required(database, "--database", "SNOWFLAKE_DATABASE"),
            schema=_required(schema, "--schema", "SNOWFLAKE_SCHEMA"),
            role=_required(role, "--role", "SNOWFLAKE_ROLE"),
            warehouse=_required(warehouse, "--warehouse", "SNOWFLAKE_WAREHOUSE"),
            ad_account_id=_required(ad_account_id, "--ad-account-id", "SPOTIFY_AD_ACCOUNT_ID"),
            admin_role=admin_role,
            owner_role=owner_role,
            bootstrap_role=bootstrap_role,
            auth=auth,
            mart_schemas=mart_schemas,
            allowed_ad_accounts=allowed_ad_accounts,
            secrets_schema=secrets_schema,
            cron=cron,
            resume_task=resume_task,
            grant_to=grant_to,
            refresh_token_expiry=refresh_token_expiry,
            task_timeout_minutes=task_timeout_minutes,
            suspend_after_failures=suspend_after_failures,
            error_integration=error_integration,
        )
        if rotate_refresh_token:
            statements = rotate_statements(config, expiry=refresh_token_expiry)
        else:
            files = StagedFiles.build(build_dir or project_dir / "target" / "snowflake")
            statements = setup_statements(config, files=files, part=part)
        if mode == "print":
            click.echo(render_script(config, statements), nl=False)
            return
        values = secret_values(statements, os.environ)
        connection = connect_with_profile(project_dir, profiles_dir, target)
        with contextlib.closing(connection):
            apply_statements(
                connection.cursor(),
                statements,
                values,
                echo=lambda line: click.echo(f"running: {line}", err=True),
            )
    except SpotifyAudiencesError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    click.echo(f"Applied {len(statements)} statements.", err=True)
