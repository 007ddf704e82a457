"""``spotify-audiences snowflake-setup``: print or apply the Snowflake setup statements."""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from spotify_audiences.errors import ConfigError, SpotifyAudiencesError, WarehouseError
from spotify_audiences.snowflake.setup_sql import (
    AUTH_MODES,
    PARTS,
    SetupConfig,
    apply_statements,
    build_code_zip,
    render_script,
    secret_values,
    setup_statements,
)
from spotify_audiences.warehouse import load_dbt_target


def _required(value: str | None, option: str, env_var: str | None = None) -> str:
    if value:
        return value
    source = f" (or set {env_var})" if env_var else ""
    raise ConfigError(f"Pass {option}{source}.")


def connect_with_profile(project_dir: Path, profiles_dir: Path | None, target: str) -> Any:
    """A Snowflake connection opened as dbt opens it, from the profile's target."""
    import snowflake.connector

    found = load_dbt_target(project_dir, profiles_dir, target)
    if found.type != "snowflake":
        raise ConfigError(f"Target {found.name!r} is a {found.type!r} target, not snowflake.")
    creds = found.credentials
    try:
        return snowflake.connector.connect(
            account=creds.account,
            database=creds.database,
            schema=creds.schema,
            warehouse=creds.warehouse,
            role=creds.role,
            autocommit=True,
            application="spotify-audiences",
            session_parameters={"QUERY_TAG": "spotify-audiences snowflake-setup"},
            login_timeout=creds.connect_timeout or 60,
            **creds.auth_args(),
        )
    except snowflake.connector.errors.Error as exc:
        raise WarehouseError(f"Cannot connect to Snowflake with target {target!r}: {exc}") from None


@click.command("snowflake-setup")
@click.option("--print", "mode", flag_value="print", help="Write every statement to stdout.")
@click.option(
    "--apply", "mode", flag_value="apply", help="Run them with the dbt profile's connection."
)
@click.option(
    "--project-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The dbt project (its macros hold the UDF and task statements).",
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
    help="oauth2: Snowflake refreshes the token (security integration + OAUTH2 secret); "
    "generic: client id, secret and refresh token as generic-string secrets.",
)
@click.option("--ad-account-id", envvar="SPOTIFY_AD_ACCOUNT_ID", help="Default ad account.")
@click.option("--database", envvar="SNOWFLAKE_DATABASE", help="Where the marts and code live.")
@click.option("--schema", envvar="SNOWFLAKE_SCHEMA", help="Schema of the marts and the code.")
@click.option("--role", envvar="SNOWFLAKE_ROLE", help="The dbt role.")
@click.option("--warehouse", envvar="SNOWFLAKE_WAREHOUSE", help="Warehouse of the task.")
@click.option(
    "--admin-role", default="ACCOUNTADMIN", show_default=True, help="Creates the integrations."
)
@click.option("--mart-schema", help="database.schema of the marts (default: --database.--schema).")
@click.option("--secrets-schema", help="database.schema for the secrets and the network rule.")
@click.option(
    "--cron", default="0 6 * * * UTC", show_default=True, help="The task's CRON and time zone."
)
@click.option("--resume-task", is_flag=True, help="Start the schedule (tasks start suspended).")
@click.option("--grant-to", multiple=True, metavar="ROLE", help="Also let ROLE call the sync.")
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
    help="Only the admin's statements, or only the dbt role's.",
)
@click.option(
    "--build-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the code zip is written (default: <project>/target/snowflake).",
)
def snowflake_setup(
    mode: str | None,
    project_dir: Path,
    profiles_dir: Path | None,
    target: str,
    auth: str,
    ad_account_id: str | None,
    database: str | None,
    schema: str | None,
    role: str | None,
    warehouse: str | None,
    admin_role: str,
    mart_schema: str | None,
    secrets_schema: str | None,
    cron: str,
    resume_task: bool,
    grant_to: tuple[str, ...],
    refresh_token_expiry: datetime | None,
    part: str,
    build_dir: Path | None,
) -> None:
    """Set up the sync inside Snowflake: egress, secrets, code, UDF, procedure and task.

    --print writes every statement for an admin to review, with placeholders for the secret
    values. --apply runs them through the Snowflake connection of the dbt profile, binding
    SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET and SPOTIFY_REFRESH_TOKEN from the environment.
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
            auth=auth,
            mart_schema=mart_schema,
            secrets_schema=secrets_schema,
            cron=cron,
            resume_task=resume_task,
            grant_to=grant_to,
            refresh_token_expiry=refresh_token_expiry,
        )
        code_zip = build_code_zip(build_dir or project_dir / "target" / "snowflake")
        statements = setup_statements(config, project_dir=project_dir, code_zip=code_zip, part=part)
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
