"""The setup a real account needs: pinned phonenumbers, grants, least privilege, task, rotation.

Each test reads what `spotify-audiences snowflake-setup --print` writes (the statements an admin
runs), or the files it stages, and fails on the setup as it was before these fixes.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import zipfile

import pytest
from click.testing import CliRunner
from support import ROOT, run_cli

from spotify_audiences.errors import ConfigError, WarehouseError
from spotify_audiences.snowflake.setup import staged
from spotify_audiences.snowflake.setup.commands import snowflake_setup
from spotify_audiences.snowflake.setup.sql import Statement, apply_statements

ACCOUNT = "5ad0b0c5-a4db-40c5-8a4d-b0c5a4db0c5a"
BASE = [
    "--database", "ANALYTICS", "--schema", "AUDIENCES", "--role", "TRANSFORMER",
    "--warehouse", "TRANSFORMING", "--ad-account-id", ACCOUNT,
]  # fmt: skip


def _print(tmp_path, *args: str) -> str:
    result = CliRunner().invoke(
        snowflake_setup,
        ["--print", "--build-dir", str(tmp_path), *BASE, *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def _statements(script: str) -> list[str]:
    body = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    return [s.strip() for s in body.split(";\n") if s.strip()]


def _parts(script: str) -> dict[str, list[str]]:
    parts: dict[str, list[str]] = {}
    for chunk in script.split("-- ==== --part ")[1:]:
        header, _, body = chunk.partition("\n")
        parts[header.split()[0]] = _statements(body)
    return parts


def _constraint(name: str) -> str:
    (pin,) = re.findall(rf"^{name}==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M)
    return pin


def test_the_udf_imports_the_pinned_phonenumbers_and_no_package_of_that_name(tmp_path):
    script = _print(tmp_path)
    (udf,) = [s for s in _statements(script) if s.startswith("create or replace function")]
    pinned = _constraint("phonenumbers")
    assert pinned == staged.rules_phonenumbers_version(), "rules header vs constraints.txt"
    assert pinned == importlib.metadata.version("phonenumbers"), "installed vs constraints.txt"
    assert f"/phonenumbers-{pinned}.zip'" in udf
    assert "/phone_numbers.py'" in udf
    (packages,) = re.findall(r"packages = \(([^)]*)\)", udf)
    assert "phonenumbers" not in packages
    assert (tmp_path / f"phonenumbers-{pinned}.zip").exists()


def test_the_staged_phonenumbers_zip_is_the_pinned_version_and_normalizes_alone(tmp_path):
    first = staged.build_phonenumbers_zip(tmp_path / "a")
    second = staged.build_phonenumbers_zip(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes(), "the same install gives the same bytes"
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
    assert "phonenumbers/__init__.py" in names
    assert not any(n.startswith("phonenumbers/geodata/") for n in names)
    probe = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]];"
        "import phonenumbers, importlib.metadata as m;"
        "assert phonenumbers.__file__.startswith(sys.argv[1]), phonenumbers.__file__;"
        "import phone_numbers as h;"
        "print(m.version('phonenumbers'), h.normalize_phone('(212) 555-0123', 'US'),"
        " h.normalize_phone('020 7946 0123', 'GB'))"
    )
    handler_dir = str(staged.phone_handler_file().parent)
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe, str(first), handler_dir],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [_constraint("phonenumbers"), "+12125550123", "+442079460123"]


def test_setup_refuses_a_phonenumbers_other_than_the_fast_paths(tmp_path, monkeypatch):
    monkeypatch.setattr(staged, "installed_phonenumbers_version", lambda: "9.0.1")
    with pytest.raises(ConfigError, match=r"phonenumbers 9\.0\.1 is installed.*generated from"):
        staged.build_phonenumbers_zip(tmp_path)


def test_setup_runs_from_a_project_without_the_packages_macros_or_udfs(tmp_path):
    project = tmp_path / "my_project"
    project.mkdir()
    (project / "dbt_project.yml").write_text("name: my_project\nprofile: my_project\n")
    result = run_cli(
        "snowflake-setup", "--print", *BASE, cwd=project, env={"PATH": str(sys.prefix) + "/bin"}
    )
    assert result.returncode == 0, result.stderr
    assert "create or replace function ANALYTICS.AUDIENCES.normalize_phone(" in result.stdout
    assert (project / "target" / "snowflake" / "spotify_audiences.zip").exists()


def test_the_wheel_ships_the_dbt_macros_setup_renders(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("spotify_audiences-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "spotify_audiences/macros/snowflake/spotify_audiences_ddl.sql" in names
    assert "spotify_audiences/macros/phone_fast_path_rules.sql" in names
    assert "spotify_audiences/udfs/phone_numbers.py" in names


def test_function_and_procedure_keep_their_grants_and_grantees_reach_them(tmp_path):
    statements = _statements(_print(tmp_path, "--grant-to", "ANALYST", "--grant-to", "BI"))
    (udf,) = [s for s in statements if s.startswith("create or replace function")]
    (proc,) = [s for s in statements if s.startswith("create or replace procedure")]
    assert re.search(r"\)\n\s+copy grants\n\s+returns varchar", udf)
    assert re.search(r"\)\n\s+copy grants\n\s+returns array", proc)
    for role in ("ANALYST", "BI"):
        assert f"grant usage on database ANALYTICS to role {role}" in statements
        assert f"grant usage on schema ANALYTICS.AUDIENCES to role {role}" in statements
        assert (
            "grant usage on procedure ANALYTICS.AUDIENCES.spotify_audiences_sync"
            f"(array, varchar, varchar, object) to role {role}" in statements
        )
        assert (
            f"grant usage on function ANALYTICS.AUDIENCES.normalize_phone(varchar, varchar) "
            f"to role {role}" in statements
        )


def test_admin_owned_secrets_schema_and_every_grant_of_the_owner_role(tmp_path):
    parts = _parts(_print(tmp_path))
    owner = "SPOTIFY_AUDIENCES_OWNER"
    secrets_home = "ANALYTICS.SPOTIFY_AUDIENCES_SECRETS"
    admin = parts["admin"]
    assert admin[0] == "use role SPOTIFY_AUDIENCES_ADMIN"
    assert admin[1].startswith(f"create schema if not exists {secrets_home}")
    assert any(s.startswith(f"create or replace network rule {secrets_home}.") for s in admin)
    assert any(s.startswith(f"create or replace secret {secrets_home}.") for s in admin)
    grants = {s for part in parts.values() for s in part if s.startswith("grant ")}
    assert {
        f"grant usage on database ANALYTICS to role {owner}",
        f"grant usage on schema {secrets_home} to role {owner}",
        f"grant read on secret {secrets_home}.spotify_audiences_oauth_token to role {owner}",
        f"grant usage on integration spotify_audiences_egress to role {owner}",
        f"grant usage on schema ANALYTICS.AUDIENCES to role {owner}",
        f"grant create procedure on schema ANALYTICS.AUDIENCES to role {owner}",
        f"grant read on stage ANALYTICS.AUDIENCES.spotify_audiences_code to role {owner}",
        f"grant select on all tables in schema ANALYTICS.AUDIENCES to role {owner}",
        f"grant select on future tables in schema ANALYTICS.AUDIENCES to role {owner}",
        f"grant create table on schema ANALYTICS.AUDIENCES to role {owner}",
        "grant execute task on account to role TRANSFORMER",
        "grant usage on procedure ANALYTICS.AUDIENCES.spotify_audiences_sync"
        "(array, varchar, varchar, object) to role TRANSFORMER",
    } <= grants
    # the dbt role gets neither the integration nor the secrets
    assert not [g for g in grants if "TRANSFORMER" in g and ("secret" in g or "egress" in g)]
    assert parts["owner"][0] == f"use role {owner}"
    assert parts["owner"][1].startswith("create or replace procedure")


def test_least_privilege_no_accountadmin_past_the_bootstrap(tmp_path):
    script = _print(tmp_path)
    parts = _parts(script)
    assert parts["bootstrap"][0] == "use role ACCOUNTADMIN"
    assert (
        "grant create integration on account to role SPOTIFY_AUDIENCES_ADMIN" in parts["bootstrap"]
    )
    for name in ("admin", "dbt", "owner", "task"):
        assert not [s for s in parts[name] if "ACCOUNTADMIN" in s], name
    assert "CREATE INTEGRATION and nothing else account-wide" in script
    generic = _print(tmp_path, "--auth", "generic")
    assert generic.count("FALLBACK (--auth generic)") == 3
    same = CliRunner().invoke(snowflake_setup, ["--print", *BASE, "--owner-role", "TRANSFORMER"])
    assert same.exit_code == 2
    assert "role of its own" in same.stderr


def test_task_timeout_failures_and_error_integration(tmp_path):
    (task,) = [s for s in _statements(_print(tmp_path)) if s.startswith("create or replace task")]
    assert "user_task_timeout_ms = 14400000" in task
    assert "suspend_task_after_num_failures = 10" in task
    assert "error_integration" not in task
    statements = _statements(
        _print(
            tmp_path, "--task-timeout-minutes", "90", "--error-integration", "SYNC_ALERTS",
            "--suspend-after-failures", "3",
        )
    )  # fmt: skip
    (task,) = [s for s in statements if s.startswith("create or replace task")]
    assert "user_task_timeout_ms = 5400000" in task
    assert "suspend_task_after_num_failures = 3" in task
    assert "error_integration = SYNC_ALERTS" in task
    assert "grant usage on integration SYNC_ALERTS to role TRANSFORMER" in statements


@pytest.mark.parametrize("auth", ["oauth2", "generic"])
def test_rotate_refresh_token_alters_only_the_secret(tmp_path, auth):
    script = _print(tmp_path, "--rotate-refresh-token", "--auth", auth)
    statements = _statements(script)
    assert statements[0] == "use role SPOTIFY_AUDIENCES_ADMIN"
    assert len(statements) == 2
    (alter,) = statements[1:]
    assert alter.startswith("alter secret ANALYTICS.SPOTIFY_AUDIENCES_SECRETS.")
    if auth == "oauth2":
        assert "oauth_refresh_token = '<SPOTIFY_REFRESH_TOKEN>'" in alter
        assert re.search(
            r"oauth_refresh_token_expiry_time = '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d'", alter
        )
    else:
        assert "secret_string = '<SPOTIFY_REFRESH_TOKEN>'" in alter
    assert "create" not in "\n".join(statements)


class _Refusing:
    """A cursor whose server refuses bind variables in DDL, as Snowflake may."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def execute(self, sql, params=None):
        self.calls.append((sql, params))
        if params:
            error = Exception("SQL compilation error: syntax error line 3 unexpected '?'.")
            error.errno = 1003  # type: ignore[attr-defined]
            raise error
        if "broken" in sql:
            raise Exception(f"Object does not exist: {sql}")


def test_apply_falls_back_to_a_literal_only_where_binding_is_refused_and_says_so():
    statement = Statement("alter secret s set secret_string = \x00SPOTIFY_REFRESH_TOKEN\x00", "why")
    cursor, said = _Refusing(), []
    apply_statements(cursor, [statement], {"SPOTIFY_REFRESH_TOKEN": "AQtok"}, echo=said.append)
    assert cursor.calls == [
        ("alter secret s set secret_string = ?", ["AQtok"]),
        ("alter secret s set secret_string = 'AQtok'", None),
    ]
    assert not any("AQtok" in line for line in said)
    assert any("no bind variable" in line for line in said)

    broken = Statement("alter broken secret_string = \x00SPOTIFY_REFRESH_TOKEN\x00", "why")
    with pytest.raises(WarehouseError) as raised:
        apply_statements(
            _Refusing(), [broken], {"SPOTIFY_REFRESH_TOKEN": "AQtok"}, echo=said.append
        )
    assert "AQtok" not in str(raised.value)
