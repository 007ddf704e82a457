"""The spotify_audiences_sync() post-hook: in-process on DuckDB, a procedure call on Snowflake."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import duckdb
import pytest
import sqlglot
from members_factory import write_members
from oracle import expected
from snowflake_helpers import dbt_on_fakesnow, project_with_post_hook
from support import ROOT, dbt_command

from spotify_audiences.duckdb_plugin import sync_on_connection
from spotify_audiences.in_warehouse import SyncFailedError


def _dbt_local(project, workdir, *args, env):
    command = dbt_command(
        args[0], workdir, *args[1:], target="local", project_dir=project, profiles_dir=project
    )
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=600
    )


def test_duckdb_build_syncs_in_process_only_when_the_var_says_so(tmp_path, sandbox):
    project = project_with_post_hook(tmp_path / "project")
    members = write_members(tmp_path / "members.csv", seed=5, audiences={"Night Owls": 1300})
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SPOTIFY_")},
        **sandbox.env(),
        "SPOTIFY_AUDIENCES_DUCKDB": str(tmp_path / "audiences.duckdb"),
    }
    csv_var = {"audience_members_csv": str(members)}

    synced = _dbt_local(
        project,
        tmp_path,
        "build",
        "--vars",
        json.dumps({**csv_var, "spotify_audiences_sync": True}),
        env=env,
    )
    assert synced.returncode == 0, synced.stdout[-4000:]
    (audience,) = sandbox.list_audiences()
    assert audience["name"] == "Night Owls"
    assert sandbox.audience_members(audience["id"]) == expected(members)["Night Owls"]["members"]
    with duckdb.connect(str(tmp_path / "audiences.duckdb"), read_only=True) as connection:
        logged = connection.execute("select action from main.spotify_audience_sync_log").fetchall()
    # the same ledger as the CLI: the intent before the upload, then the outcome
    assert sorted(logged) == [("created",), ("pending",)]

    requests_before = len(sandbox.requests())
    plain = _dbt_local(
        project,
        tmp_path,
        "run",
        "--select",
        "spotify_audience_sync",
        "--vars",
        json.dumps(csv_var),
        env=env,
    )
    assert plain.returncode == 0, plain.stdout[-4000:]
    assert len(sandbox.requests()) == requests_before, "a run without the var must not sync"


def test_in_process_sync_refuses_like_the_cli_and_fails_the_hook(
    demo_build, sandbox, monkeypatch, tmp_path
):
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    request = {"audiences": None, "schema": "main", "options": {"min_identifiers": 10**9}}
    database = tmp_path / "audiences.duckdb"
    shutil.copy(demo_build.duckdb, database)
    connection = duckdb.connect(str(database))
    try:
        with pytest.raises(SyncFailedError, match="did not sync") as raised:
            sync_on_connection(connection, json.dumps(request))
        request["options"]["raise_on_failure"] = False
        results = json.loads(sync_on_connection(connection, json.dumps(request)))
    finally:
        connection.close()
    assert raised.value.exit_code == 3
    assert {r["action"] for r in results} == {"refused"}
    assert sandbox.requests() == []


def test_a_failing_test_upstream_of_the_marts_skips_the_sync_hook(tmp_path, sandbox):
    project = project_with_post_hook(tmp_path / "project", failing_test="assert_members_rejected")
    members = write_members(tmp_path / "members.csv", seed=6, audiences={"Night Owls": 1300})
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SPOTIFY_")},
        **sandbox.env(),
        "SPOTIFY_AUDIENCES_DUCKDB": str(tmp_path / "audiences.duckdb"),
    }
    dbt_vars = {"audience_members_csv": str(members), "spotify_audiences_sync": True}

    result = _dbt_local(project, tmp_path, "build", "--vars", json.dumps(dbt_vars), env=env)

    assert result.returncode != 0
    run_results = json.loads((tmp_path / "target" / "run_results.json").read_text())
    status = {r["unique_id"].split(".")[-1]: r["status"] for r in run_results["results"]}
    assert status["assert_members_rejected"] == "fail"
    assert status["spotify_audience_sync"] == "skipped"
    assert sandbox.requests() == [], "nothing may reach Spotify when a test failed"
    log = (tmp_path / "logs" / "dbt.log").read_text()
    assert "select spotify_audiences_sync(" not in log


def test_the_sync_hook_hangs_on_the_terminal_model_after_every_mart(tmp_path):
    result = _dbt_local(ROOT, tmp_path, "parse", env=dict(os.environ))
    assert result.returncode == 0, result.stdout[-4000:]
    nodes = json.loads((tmp_path / "target" / "manifest.json").read_text())["nodes"]
    hooked = {
        node["name"]
        for node in nodes.values()
        if any(
            "spotify_audiences_sync()" in hook["sql"]
            for hook in node["config"].get("post-hook", [])
        )
    }
    assert hooked == {"spotify_audience_sync"}
    sync = nodes["model.spotify_audiences.spotify_audience_sync"]
    assert sync["config"]["materialized"] == "view"
    assert set(sync["depends_on"]["nodes"]) == {
        f"model.spotify_audiences.{mart}"
        for mart in (
            "spotify_audience_identifiers",
            "spotify_audience_rejects",
            "spotify_audience_summary",
        )
    }


def test_snowflake_post_hook_calls_the_procedure_on_the_marts_just_built(
    tmp_path, fakesnow, fakesnow_build
):
    assert fakesnow_build.returncode == 0
    project = project_with_post_hook(
        tmp_path / "project",
        hook=(
            "{{ spotify_audiences.spotify_audiences_sync("
            "['Ski Season'], options={'dry_run': true}) }}"
        ),
    )
    dbt_vars = {
        "audience_members_relation": fakesnow_build.members_table,
        "spotify_audiences_sync": True,
    }
    result = dbt_on_fakesnow(
        fakesnow,
        tmp_path,
        "run",
        "--select",
        "spotify_audience_sync",
        "--vars",
        json.dumps(dbt_vars),
        project_dir=project,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    log = (tmp_path / "logs" / "dbt.log").read_text()
    calls = [line for line in log.splitlines() if "call SPOTIFY_AUDIENCES.AUDIENCES." in line]
    assert calls, "the post-hook did not call the procedure"
    statement = calls[-1][calls[-1].index("call ") :]
    assert statement.startswith("call SPOTIFY_AUDIENCES.AUDIENCES.spotify_audiences_sync(")
    assert "mart_schema => 'SPOTIFY_AUDIENCES.AUDIENCES'" in statement
    assert """audiences => parse_json('["Ski Season"]')::array""" in statement
    options = statement[statement.index("options => parse_json('") + 23 :]
    options = json.loads(options[: options.index("')::object")])
    # the settings come from the summary's columns, not from the var; dbt already gated the
    # hook on the tests, so the procedure must not gate on the previous build's log row
    assert options == {"dry_run": True, "test_gate": False}
    sqlglot.tokenize(statement, read="snowflake")
