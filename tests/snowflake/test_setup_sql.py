"""`spotify-audiences snowflake-setup`: what it prints parses, says what it touches, and applies."""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.metadata
import json
import re
import subprocess
import sys
import zipfile

import pytest
import sqlglot
from click.testing import CliRunner
from snowflake_helpers import DATABASE
from sqlglot import exp

from spotify_audiences.snowflake.setup.commands import snowflake_setup
from spotify_audiences.snowflake.setup.sql import HOSTS, build_code_zip

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
    "grant usage on database": exp.Grant,
    "grant usage on schema": exp.Grant,
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

    source = next(s for s in statements if s.startswith("create or replace procedure"))
    text = sqlglot.parse_one(source, read="snowflake").sql("snowflake").lower()
    assert "external_access_integrations=(spotify_audiences_egress)" in text
    assert "execute as owner" in text
    assert "handler = 'sync'" in source
    credentials = "oauth_secret" if auth == "oauth2" else "generic_secrets"
    assert f"{credentials}(), policy=POLICY" in source


def test_printed_setup_names_exactly_the_hosts_secrets_and_roles_and_no_secret_value(tmp_path):
    result = _setup("--print", "--auth", "generic", "--build-dir", str(tmp_path), env=SECRETS)
    assert result.exit_code == 0, result.output
    script = result.stdout

    for value in SECRETS.values():
        assert value not in script
    (rule,) = [s for s in _statements(script) if s.startswith("create or replace network rule")]
    assert re.findall(r"'([^']+):443'", rule) == list(HOSTS)
    (integration,) = [s for s in _statements(script) if "external access integration" in s]
    secrets_home = f"{DATABASE}.SPOTIFY_AUDIENCES_SECRETS"
    assert f"allowed_network_rules = ({secrets_home}.spotify_audiences_egress)" in integration
    for alias in ("spotify_client_id", "spotify_client_secret", "spotify_refresh_token"):
        assert f"'{alias}' = {secrets_home}.spotify_audiences_{alias[8:]}" in script
        assert f"secret_string = '<SPOTIFY_{alias[8:].upper()}>'" in script
    assert "use role SPOTIFY_AUDIENCES_ADMIN;" in script
    assert "use role TRANSFORMER;" in script
    assert "use role SPOTIFY_AUDIENCES_OWNER;" in script
    assert "grant read on secret" in script
    assert "FALLBACK (--auth generic)" in script
    assert "-- alter task" in script, "the task is left suspended unless asked"


def test_udf_statement_is_the_one_dbt_runs_in_on_run_start(fakesnow_build, tmp_path):
    result = _setup("--print", "--build-dir", str(tmp_path))
    (udf,) = [s for s in _statements(result.stdout) if s.startswith("create or replace function")]
    assert udf in (fakesnow_build.workdir / "logs" / "dbt.log").read_text()


UNSUPPORTED = (
    r"^\s*(grant|alter secret|create role|create or replace (network rule|security integration"
    r"|secret|external access integration|procedure|task))\b"
)


@pytest.fixture
def recorded(fakesnow, monkeypatch):
    """What the fakesnow server receives: (statement text, values bound on the server)."""
    from fakesnow.cursor import FakeSnowflakeCursor

    shared = importlib.import_module("fakesnow.server").shared_fs
    # fakesnow has no integrations, secrets, grants, procedures or tasks: accept them as no-ops
    monkeypatch.setattr(shared, "nop_regexes", [*shared.nop_regexes, UNSUPPORTED])
    received: list[tuple[str, object]] = []
    execute = FakeSnowflakeCursor.execute

    def recording(self, command, *args, **kwargs):
        received.append((command, kwargs.get("binding_params")))
        if re.match(UNSUPPORTED, command):
            # a no-op here takes no parameters; Snowflake binds them
            kwargs.pop("binding_params", None)
        return execute(self, command, *args, **kwargs)

    monkeypatch.setattr(FakeSnowflakeCursor, "execute", recording)
    return received


def test_apply_runs_every_statement_binding_secrets_on_the_server(fakesnow, recorded, tmp_path):
    with contextlib.closing(fakesnow.connect()) as connection:
        connection.cursor().execute(f"create schema if not exists {DATABASE}.SETUP")

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
        assert not any(value in sql for sql, _ in recorded), "no secret in any statement's text"
        assert any(value in (params or ()) for _, params in recorded), "bound on the server"
    bound = [sql for sql, params in recorded if params]
    assert bound and all("?" in sql for sql in bound)
    assert (
        sum(sql.lstrip().startswith(("create", "put", "grant", "use")) for sql, _ in recorded) >= 25
    )
    staged = {
        row[0].rsplit("/", 1)[-1]
        for row in fakesnow.query(f"list @{DATABASE}.SETUP.spotify_audiences_code")
    }
    version = importlib.metadata.version("phonenumbers")
    assert {"phone_numbers.py", f"phonenumbers-{version}.zip", "spotify_audiences.zip"} <= staged
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
    with zipfile.ZipFile(code_zip) as archive:
        names = archive.namelist()
    assert "spotify_audiences/snowflake/procedure.py" in names
    assert not [n for n in names if n.startswith("spotify_audiences/snowflake/setup/")], (
        "the admin setup tooling stays out of the procedure's zip"
    )
    # PACKAGES = ('snowflake-snowpark-python', 'requests'): nothing of the dbt side may be needed
    assert not {"dbt", "duckdb", "click", "phonenumbers", "jinja2"} & set(ast.literal_eval(modules))


def test_rotate_refresh_token_binds_the_new_token_and_prints_nothing(fakesnow, recorded):
    new_token = "AQrotated-token-4c1e"
    result = _setup(
        "--apply",
        "--rotate-refresh-token",
        "--target",
        "fakesnow",
        "--admin-role",
        "FAKE_ROLE",
        env={"SPOTIFY_REFRESH_TOKEN": new_token, "FAKESNOW_PORT": str(fakesnow.port)},
    )

    assert result.exit_code == 0, result.output
    assert new_token not in result.output
    (alter,) = [(sql, params) for sql, params in recorded if sql.startswith("alter secret")]
    sql, params = alter
    assert "oauth_refresh_token = ?" in sql and "oauth_refresh_token_expiry_time = ?" in sql
    assert new_token not in sql
    assert params[0] == new_token
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", params[1])
    assert not [s for s, _ in recorded if s.lstrip().startswith("create")], "nothing recreated"


def test_on_run_start_check_names_the_setup_when_the_staged_files_are_missing(fakesnow, tmp_path):
    from snowflake_helpers import dbt_on_fakesnow

    version = importlib.metadata.version("phonenumbers")
    check = "spotify_audiences_check_staged"
    with contextlib.closing(fakesnow.connect()) as connection:
        cursor = connection.cursor()
        cursor.execute(f"create schema if not exists {DATABASE}.CHECKED")
        cursor.execute(f"create stage if not exists {DATABASE}.CHECKED.spotify_audiences_code")
    args = {"stage": f"{DATABASE}.NOWHERE.spotify_audiences_code", "phonenumbers_version": version}
    missing_stage = dbt_on_fakesnow(
        fakesnow, tmp_path, "run-operation", check, "--args", json.dumps(args)
    )
    assert missing_stage.returncode != 0
    assert "does not exist" in missing_stage.stdout
    assert "spotify-audiences snowflake-setup" in missing_stage.stdout

    args["stage"] = f"{DATABASE}.CHECKED.spotify_audiences_code"
    empty = dbt_on_fakesnow(fakesnow, tmp_path, "run-operation", check, "--args", json.dumps(args))
    assert empty.returncode != 0
    assert f"phonenumbers-{version}.zip" in empty.stdout
    assert "spotify-audiences snowflake-setup" in empty.stdout

    setup = _setup("--print", "--build-dir", str(tmp_path), schema="CHECKED")
    for name in ("phone_numbers.py", f"phonenumbers-{version}.zip"):
        put = next(s for s in _statements(setup.stdout) if s.startswith("put ") and name in s)
        with contextlib.closing(fakesnow.connect()) as connection:
            connection.cursor().execute(put)
    staged = dbt_on_fakesnow(fakesnow, tmp_path, "run-operation", check, "--args", json.dumps(args))
    assert staged.returncode == 0, staged.stdout[-3000:]
