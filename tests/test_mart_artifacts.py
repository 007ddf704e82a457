"""The sync finds the marts where the last dbt command on its target built them.

The project is this dbt project with the marts' schema taken from a var
(``+schema: "{{ var('mart_schema', none) }}"``), built once by the real dbt with
``--vars '{mart_schema: moved}'`` and no ``--target`` (the profile's default): the marts are in
``main_moved``, where a plain ``dbt parse`` (no vars) would never look (it says ``main``). So a
resolution that answers ``main_moved`` read the build's artifacts, and one that answers
``main`` ran ``dbt parse``. Each test works on its own copy of the build's target directory,
pointed at by ``DBT_TARGET_PATH``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from members_factory import write_members
from oracle import expected
from support import BIN, ROOT, copy_project, run_cli

from spotify_audiences.project import dbt_target_path, resolve_project

AUDIENCE = "Moved Schema Fans"
MOVED = "main_moved"


def dbt(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(BIN / "dbt"), *args, "--project-dir", str(project), "--profiles-dir", str(project)],
        cwd=project,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


@pytest.fixture(scope="module")
def moved(tmp_path_factory):
    """A build whose marts a --vars value moved to ``main_moved``; its artifacts in ``built``."""
    root = tmp_path_factory.mktemp("moved-marts")
    project = root / "project"
    copy_project(project)
    config = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    config["models"]["spotify_audiences"]["marts"]["+schema"] = "{{ var('mart_schema', none) }}"
    (project / "dbt_project.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    profiles = yaml.safe_load((ROOT / "profiles.yml").read_text())
    outputs = profiles["spotify_audiences"]["outputs"]
    outputs["other"] = dict(outputs["local"])  # a second DuckDB target on the same file
    (project / "profiles.yml").write_text(yaml.safe_dump(profiles, sort_keys=False))
    members = write_members(root / "crm.csv", seed=71, audiences={AUDIENCE: 1100})
    database = root / "warehouse.duckdb"
    built = root / "built"
    env = {"SPOTIFY_AUDIENCES_DUCKDB": str(database), "DBT_TARGET_PATH": str(built)}
    dbt_vars = json.dumps({"audience_members_csv": str(members), "mart_schema": "moved"})
    dbt(project, "build", "--vars", dbt_vars, env=env)
    return {"project": project, "database": database, "built": built, "members": members}


@pytest.fixture
def artifacts(moved, tmp_path, monkeypatch) -> Path:
    """This test's copy of the build's target directory, the one the resolution reads."""
    target = tmp_path / "target"
    shutil.copytree(moved["built"], target)
    monkeypatch.setenv("SPOTIFY_AUDIENCES_DUCKDB", str(moved["database"]))
    monkeypatch.setenv("DBT_TARGET_PATH", str(target))
    return target


def schemas(project) -> set[str]:
    marts = project.marts
    return {marts.identifiers.schema, marts.rejects.schema, marts.summary.schema}


def test_the_marts_are_found_where_the_build_wrote_them_without_a_parse(moved, artifacts):
    project = moved["project"]

    for target in (None, "local"):  # no --target: the profile's default, as the build had it
        resolved = resolve_project(project, project, target)
        assert schemas(resolved) == {MOVED}, f"a parse would say main ({target=})"
        assert resolved.marts.summary.database == "warehouse"
        assert resolved.marts.identifiers.name == "spotify_audience_identifiers"


def test_the_cli_syncs_the_moved_marts_from_the_artifacts(moved, artifacts, tmp_path):
    out = tmp_path / "out"
    env = {
        "SPOTIFY_AUDIENCES_DUCKDB": str(moved["database"]),
        "DBT_TARGET_PATH": str(artifacts),
    }

    result = run_cli(
        "sync", "--project-dir", str(moved["project"]), "--dry-run", str(out), "--json",
        env=env, cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert line["action"] == "dry_run"
    want = expected(moved["members"])[AUDIENCE]["members"]
    rows = Path(line["file"]).read_text().splitlines()
    assert rows[0] == "type,value"
    assert {tuple(r.split(",")) for r in rows[1:]} == want


def test_without_run_results_the_parse_decides(moved, artifacts):
    (artifacts / "run_results.json").unlink()

    assert schemas(resolve_project(moved["project"], moved["project"])) == {"main"}


def test_a_later_parse_that_rewrote_the_manifest_is_not_trusted(moved, artifacts):
    project = moved["project"]
    # a real `dbt parse` with the build's vars: a new manifest.json, the build's run_results.json
    dbt_vars = json.dumps({"mart_schema": "reparsed"})
    dbt(project, "parse", "--vars", dbt_vars, env={"DBT_TARGET_PATH": str(artifacts)})
    ids = {
        json.loads((artifacts / name).read_text())["metadata"]["invocation_id"]
        for name in ("run_results.json", "manifest.json")
    }
    assert len(ids) == 2

    assert schemas(resolve_project(project, project)) == {"main"}


def test_artifacts_of_another_target_are_not_trusted(moved, artifacts):
    project = moved["project"]
    dbt_vars = json.dumps({"mart_schema": "elsewhere"})
    env = {"DBT_TARGET_PATH": str(artifacts)}
    dbt(project, "compile", "-s", "spotify_audience_summary", "--target", "other",
        "--vars", dbt_vars, env=env)  # fmt: skip
    assert json.loads((artifacts / "run_results.json").read_text())["args"]["target"] == "other"

    assert schemas(resolve_project(project, project, "local")) == {"main"}
    # on the target that ran last, its artifacts are trusted
    assert schemas(resolve_project(project, project, "other")) == {"main_elsewhere"}


def test_artifacts_of_another_duckdb_file_are_not_trusted(moved, artifacts, monkeypatch):
    project = moved["project"]
    monkeypatch.setenv("SPOTIFY_AUDIENCES_DUCKDB", str(artifacts.parent / "other.duckdb"))

    resolved = resolve_project(project, project)

    assert schemas(resolved) == {"main"}
    assert resolved.marts.summary.database == "other"


def test_artifacts_of_another_project_dir_are_not_trusted(moved, artifacts):
    project = moved["project"]
    run_results = json.loads((artifacts / "run_results.json").read_text())
    run_results["args"]["project_dir"] = str(artifacts.parent / "another-project")
    (artifacts / "run_results.json").write_text(json.dumps(run_results))

    assert schemas(resolve_project(project, project)) == {"main"}


def test_the_target_path_is_dbt_target_path_else_the_project_setting(tmp_path, monkeypatch):
    project = tmp_path / "p"
    project.mkdir()
    (project / "dbt_project.yml").write_text("name: p\nprofile: p\n")
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    assert dbt_target_path(project) == project / "target"

    monkeypatch.setenv("BUILD_OUT", "out")
    (project / "dbt_project.yml").write_text(
        "name: p\nprofile: p\ntarget-path: \"{{ env_var('BUILD_OUT') }}/dbt\"\n"
    )
    assert dbt_target_path(project) == project / "out" / "dbt"

    monkeypatch.setenv("DBT_TARGET_PATH", "relative")
    assert dbt_target_path(project) == project / "relative"
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "absolute"))
    assert dbt_target_path(project) == tmp_path / "absolute"
