"""`spotify-audiences snowflake-setup`: what it prints parses, says what it touches, and applies."""

from __future__ import annotations

import ast
import contextlib
import importlib
import re
import subprocess
import sys
import zipfile

import pytest
import sqlglot
from click.testing import CliRunner
from snowflake_helpers import DATABASE
from sqlglot import exp

from spotify_audiences.snowflake.commands import snowflake_setup
from spotify_audiences.snowflake.setup_sql import HOSTS, build_code_zip

ACCOUNT = "5ad0b0c5-a4db-40c5-8a4d-b0c5a4db0c5a"
SECRETS = {
    "SPOTIFY_CLIENT_ID": "client-id-0f3a",
    "SPOTIFY_CLIENT_SECRET": "client-secret-6b1e9",
    "SPOTIFY_REFRESH_TOKEN": "AQrefresh-token-77d2",
}
# statements sqlglot models as expressions; every other one it keeps as a raw Command
MODELED = {
    "use role": exp.Use,
    "create stage": exp.Create,
    "put ": exp.Put,
    "create or replace function": exp.Create,
    "create or replace procedure": exp.Create,
    "grant usage on integration": exp.Grant,
    "grant usage on procedure": exp.Grant,
    "grant usage on function": exp.Grant,
    "grant execute task": exp.Grant,
}


def _setup(*args: str, env: dict[str, str] | None = None, schema: str = "AUDIENCES"):
    base = ["--database", DATABASE, "--schema", schema, "--role", "TRANSFORMER"]
    base += ["--warehouse", "TRANSFORMING", "--ad-account-id", ACCOUNT]
    return CliRunner().invoke(snowflake_setup, [*args, *base], env=env, catch_exceptions=False)


def _statements(script: str) -> list[str]:
    body = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    return [s.strip() for s in body.split(";\n") if s.strip()]


@pytest.mark.parametrize("auth", ["oauth2", "generic"])
def test_every_printed_statement_parses_with_sqlglots_snowflake_dialect(auth, tmp_path):
    result = _setup(
        "--print", "--auth", auth, "--grant-to", "ANALYST", "--build-dir", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    statements = _statements(result.stdout)
    assert len(statements) >= 15

    for statement in statements:
        parsed = sqlglot.parse_one(
            statement, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE
        )
        kind = next((t for prefix, t in MODELED.items() if statement.startswith(prefix)), None)
        # the rest (CREATE SECRET, CREATE TASK, ...) sqlglot 30 tokenizes and keeps as commands
        if kind is not None:
            assert isinstance(parsed, kind), statement

    procedure = sqlglot.parse_one(
        next(s for s in statements if s.startswith("create or replace procedure")), read="snowflake"
    )
    text = procedure.sql("snowflake").lower()
    assert "external_access_integrations=(spotify_audiences_egress)" in text
    assert "execute as owner" in text
    handler = "sync_with_oauth_secret" if auth == "oauth2" else "sync_with_generic_secrets"
    assert f"handler = 'spotify_audiences.snowflake.procedure.{handler}'" in text


def test_printed_setup_names_exactly_the_hosts_secrets_and_roles_and_no_secret_value(tmp_path):
    result = _setup("--print", "--auth", "generic", "--build-dir", str(tmp_path), env=SECRETS)
    assert result.exit_code == 0, result.output
    script = result.stdout

    for value in SECRETS.values():
        assert value not in script
    (rule,) = [s for s in _statements(script) if s.startswith("create or replace network rule")]
    assert re.findall(r"'([^']+):443'", rule) == list(HOSTS)
    (integration,) = [s for s in _statements(script) if "external access integration" in s]
    assert f"allowed_network_rules = ({DATABASE}.AUDIENCES.spotify_audiences_egress)" in integration
    for alias in ("spotify_client_id", "spotify_client_secret", "spotify_refresh_token"):
        assert f"'{alias}' = {DATABASE}.AUDIENCES.spotify_audiences_{alias[8:]}" in script
        assert f"secret_string = '<SPOTIFY_{alias[8:].upper()}>'" in script
    assert "use role ACCOUNTADMIN;" in script
    assert "use role TRANSFORMER;" in script
    assert "grant read on secret" in script
    assert "-- alter task" in script, "the task is left suspended unless asked"


def test_udf_statement_is_the_one_dbt_runs_in_on_run_start(fakesnow_build, tmp_path):
    result = _setup("--print", "--build-dir", str(tmp_path))
    (udf,) = [s for s in _statements(result.stdout) if s.startswith("create or replace function")]
    assert udf in (fakesnow_build.workdir / "logs" / "dbt.log").read_text()


UNSUPPORTED = (
    r"^\s*(grant|create or replace (network rule|security integration|secret"
    r"|external access integration|procedure|task))\b"
)


def test_apply_runs_every_statement_through_the_dbt_profiles_connection(
    fakesnow, tmp_path, monkeypatch
):
    from fakesnow.cursor import FakeSnowflakeCursor

    with contextlib.closing(fakesnow.connect()) as connection:
        connection.cursor().execute(f"create schema if not exists {DATABASE}.SETUP")
    shared = importlib.import_module("fakesnow.server").shared_fs
    # fakesnow has no integrations, secrets, grants, procedures or tasks: accept them as no-ops
    monkeypatch.setattr(shared, "nop_regexes", [*shared.nop_regexes, UNSUPPORTED])
    received: list[str] = []
    execute = FakeSnowflakeCursor.execute

    def recording(self, command, *args, **kwargs):
        received.append(command)
        return execute(self, command, *args, **kwargs)

    monkeypatch.setattr(FakeSnowflakeCursor, "execute", recording)

    result = _setup(
        "--apply",
        "--target",
        "fakesnow",
        "--admin-role",
        "FAKE_ROLE",
        "--build-dir",
        str(tmp_path),
        env={**SECRETS, "FAKESNOW_PORT": str(fakesnow.port)},
        schema="SETUP",
    )

    assert result.exit_code == 0, result.output
    assert "Applied" in result.stderr
    for value in SECRETS.values():
        assert value not in result.output, "the command must never show a secret"
        assert any(value in sql for sql in received), "the secret values are bound when applied"
    assert sum(sql.lstrip().startswith(("create", "put", "grant", "use")) for sql in received) >= 15
    staged = {
        row[0].rsplit("/", 1)[-1]
        for row in fakesnow.query(f"list @{DATABASE}.SETUP.spotify_audiences_code")
    }
    assert {"phone_numbers.py", "spotify_audiences.zip"} <= staged
    with zipfile.ZipFile(tmp_path / "spotify_audiences.zip") as archive:
        assert "spotify_audiences/snowflake/procedure.py" in archive.namelist()
        assert "spotify_audiences/sync.py" in archive.namelist()


def test_apply_needs_the_secret_values_and_names_them(tmp_path):
    result = _setup(
        "--apply",
        "--target",
        "fakesnow",
        "--build-dir",
        str(tmp_path),
        env={"SPOTIFY_CLIENT_ID": "", "SPOTIFY_CLIENT_SECRET": "", "SPOTIFY_REFRESH_TOKEN": ""},
    )
    assert result.exit_code == 2
    assert "SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET, SPOTIFY_REFRESH_TOKEN" in result.stderr


def test_the_staged_zip_holds_everything_the_handlers_import(tmp_path):
    code_zip = build_code_zip(tmp_path)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import spotify_audiences.snowflake.procedure as p;"
        "print(p.__file__);"
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(code_zip)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    where, modules = result.stdout.splitlines()
    assert where.startswith(str(code_zip)), "the handler must come from the zip"
    # PACKAGES = ('snowflake-snowpark-python', 'requests'): nothing of the dbt side may be needed
    assert not {"dbt", "duckdb", "click", "phonenumbers", "jinja2"} & set(ast.literal_eval(modules))
