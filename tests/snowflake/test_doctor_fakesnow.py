"""`spotify-audiences doctor` on the fakesnow target: what the emulator can answer, it answers.

The marts and the staged files are real answers; the objects fakesnow cannot hold (network rule,
integration, secrets, procedure, task, grants; its CREATE FUNCTION is a no-op) are reported as
"cannot verify here", which is not a pass.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json

from click.testing import CliRunner
from snowflake_helpers import DATABASE
from support import ROOT, run_cli

from spotify_audiences.snowflake.setup.commands import snowflake_setup


def _doctor(fakesnow, sandbox, schema: str = "AUDIENCES"):
    env = {**sandbox.env(), "FAKESNOW_PORT": str(fakesnow.port), "FAKESNOW_SCHEMA": schema}
    result = run_cli(
        "doctor", "--json", "--project-dir", str(ROOT), "--profiles-dir", str(ROOT),
        "--target", "fakesnow", env=env,
    )  # fmt: skip
    assert result.stdout.startswith("{"), result.stderr[-3000:]
    report = json.loads(result.stdout)
    return result, {c["name"]: c for c in report["checks"]}


def test_doctor_on_fakesnow_answers_what_it_can_and_says_what_it_cannot(
    fakesnow, fakesnow_build, sandbox, tmp_path
):
    assert fakesnow_build.returncode == 0
    result, checks = _doctor(fakesnow, sandbox)

    assert result.returncode == 1
    assert checks["marts exist"]["status"] == "pass"
    assert checks["token refresh works"]["status"] == "pass"
    staged = checks["staged code"]
    assert staged["status"] == "fail" and "snowflake-setup" in staged["fix"]
    for name in (
        "network rule hosts",
        "external access integration enabled",
        "secrets exist",
        "phone UDF runs the fast path's phonenumbers",
        "sync procedure present",
        "task state, schedule and last runs",
        "grants",
    ):
        assert checks[name]["status"] == "unknown", name
        assert "cannot verify here" in checks[name]["detail"]

    # the dbt role's part of the setup stages the files; doctor then sees them
    printed = CliRunner().invoke(
        snowflake_setup,
        ["--print", "--part", "dbt", "--build-dir", str(tmp_path), "--database", DATABASE,
         "--schema", "AUDIENCES", "--role", "R", "--warehouse", "W",
         "--ad-account-id", sandbox.env()["SPOTIFY_AD_ACCOUNT_ID"]],
    )  # fmt: skip
    statements = [
        s.strip()
        for s in "\n".join(
            line for line in printed.stdout.splitlines() if not line.startswith("--")
        ).split(";\n")
        if s.strip().startswith(("create stage", "put "))
    ]
    with contextlib.closing(fakesnow.connect()) as connection:
        for statement in statements:
            connection.cursor().execute(statement)
    result, checks = _doctor(fakesnow, sandbox)
    version = importlib.metadata.version("phonenumbers")
    assert checks["staged code"]["status"] == "pass"
    assert f"phonenumbers-{version}.zip" in checks["staged code"]["detail"]
