"""The CLI finds the marts as dbt does: the project's profile, the target, custom schemas.

The project here is this dbt project under another profile name (``acme_warehouse``, and no
``spotify_audiences`` profile at all) with its marts in a custom schema (``+schema: marts``,
which dbt's ``generate_schema_name`` turns into ``main_marts``), built by the real dbt.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml
from members_factory import write_members
from oracle import expected
from support import BIN, ROOT, copy_project, run_cli

from spotify_audiences.project import resolve_project

PROFILE = "acme_warehouse"


@pytest.fixture(scope="module")
def custom_project(tmp_path_factory):
    """A copy of the project with another profile name and the marts in a custom schema."""
    root = tmp_path_factory.mktemp("custom-project")
    project = root / "project"
    copy_project(project)
    config = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    config["profile"] = PROFILE
    config["models"]["spotify_audiences"]["marts"]["+schema"] = "marts"
    (project / "dbt_project.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    profiles = yaml.safe_load((ROOT / "profiles.yml").read_text())
    (project / "profiles.yml").write_text(
        yaml.safe_dump({PROFILE: profiles["spotify_audiences"]}, sort_keys=False)
    )
    members = write_members(root / "crm.csv", seed=55, audiences={"Custom Schema Fans": 1150})
    database = root / "warehouse.duckdb"
    env = {**os.environ, "SPOTIFY_AUDIENCES_DUCKDB": str(database)}
    build = subprocess.run(
        [
            str(BIN / "dbt"),
            "build",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--vars",
            json.dumps({"audience_members_csv": str(members)}),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout[-4000:]
    return project, database, members


def test_resolution_reads_the_profile_name_and_the_custom_schema(custom_project, monkeypatch):
    project, database, _ = custom_project
    monkeypatch.setenv("SPOTIFY_AUDIENCES_DUCKDB", str(database))

    resolved = resolve_project(project, project)

    assert resolved.profile_name == PROFILE
    assert resolved.target.name == "local"
    assert {resolved.marts.identifiers.schema, resolved.marts.summary.schema} == {"main_marts"}
    assert resolved.marts.summary.database == "warehouse"


def test_cli_syncs_the_marts_of_the_custom_schema(custom_project, sandbox, tmp_path):
    project, database, members = custom_project
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(database, copy)
    env = {**sandbox.env(), "SPOTIFY_AUDIENCES_DUCKDB": str(copy)}
    want = expected(members)

    result = run_cli("sync", "--project-dir", str(project), "--json", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]  # dbt printed nothing
    assert line["action"] == "created"
    assert sandbox.audience_members(line["audience_id"]) == want["Custom Schema Fans"]["members"]
    con = duckdb.connect(str(copy), read_only=True)
    try:
        ledger = con.execute(
            "select table_schema from information_schema.tables "
            "where table_name = 'spotify_audience_sync_log'"
        ).fetchall()
    finally:
        con.close()
    assert ledger == [("main_marts",)], "the ledger lives beside the marts"


def test_a_project_without_the_marts_is_a_clear_error(tmp_path):
    project = tmp_path / "empty_project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "one.sql").write_text("select 1 as id\n")
    (project / "dbt_project.yml").write_text(
        "name: empty_project\nversion: '1.0.0'\nprofile: somewhere_else\n"
    )
    (project / "profiles.yml").write_text(
        "somewhere_else:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {tmp_path / 'x.duckdb'}\n"
    )
    result = run_cli(
        "sync", "--project-dir", str(project), "--dry-run", str(tmp_path / "out"), cwd=tmp_path
    )
    assert result.returncode == 2
    assert "spotify_audiences.spotify_audience_identifiers" in result.stderr
    assert "packages.yml" in result.stderr
    assert not Path(tmp_path / "x.duckdb").exists()
