"""Test helpers: the real dbt build and the real CLI, run as a user would run them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from spotify_audiences.project import dbt_args

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEMO_CSV = ROOT / "data" / "demo_audience_members.csv"


@dataclass
class Build:
    """One dbt build into its own DuckDB file."""

    duckdb: Path
    target_path: Path
    result: subprocess.CompletedProcess

    def env(self) -> dict[str, str]:
        return {"SPOTIFY_AUDIENCES_DUCKDB": str(self.duckdb)}


def dbt_command(
    command: str,
    workdir: Path,
    *extra: str,
    target: str,
    project_dir: Path = ROOT,
    profiles_dir: Path = ROOT,
    dbt_vars: str | None = None,
) -> list[str]:
    """The installed ``dbt`` running ``command`` (then ``extra`` arguments) on a project and
    target, with its compiled SQL and logs in ``workdir``."""
    return [
        str(BIN / "dbt"),
        *dbt_args(
            command,
            project_dir,
            profiles_dir,
            target,
            target_path=workdir / "target",
            log_path=workdir / "logs",
            dbt_vars=dbt_vars,
        ),
        *extra,
    ]


def dbt_build(
    workdir: Path, members_csv: Path | None = None, *, extra_vars: str = "", check: bool = True
) -> Build:
    """Run the real `dbt build` on the local DuckDB target, isolated in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    duckdb_path = workdir / "audiences.duckdb"
    target_path = workdir / "target"
    env = {**os.environ, "SPOTIFY_AUDIENCES_DUCKDB": str(duckdb_path)}
    dbt_vars = []
    if members_csv is not None:
        dbt_vars.append(f"audience_members_csv: '{members_csv}'")
    if extra_vars:
        dbt_vars.append(extra_vars)
    args = dbt_command(
        "build",
        workdir,
        target="local",
        dbt_vars="{" + ", ".join(dbt_vars) + "}" if dbt_vars else None,
    )
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"dbt build failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}")
    return Build(duckdb=duckdb_path, target_path=target_path, result=result)


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 300):
    """Run the installed `spotify-audiences` console script as a user would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SPOTIFY_")}
    full_env.update(env or {})
    return subprocess.run(
        [str(BIN / "spotify-audiences"), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def require_tool(name: str) -> None:
    """Skip when a command is not installed."""
    import pytest

    if shutil.which(name) is None and not (BIN / name).exists():
        pytest.skip(f"{name} is not installed")


def create_audience_directly(sandbox, name: str) -> str:
    """An audience made outside this tool (Ads Manager, another warehouse), by plain HTTP."""
    import hashlib

    import requests

    env = sandbox.env()
    token = requests.post(
        env["SPOTIFY_ACCOUNTS_URL"] + "/api/token",
        data={"grant_type": "refresh_token", "refresh_token": env["SPOTIFY_REFRESH_TOKEN"]},
        auth=(env["SPOTIFY_CLIENT_ID"], env["SPOTIFY_CLIENT_SECRET"]),
        timeout=10,
    ).json()["access_token"]
    api = f"{env['SPOTIFY_ADS_API_URL']}/ad_accounts/{env['SPOTIFY_AD_ACCOUNT_ID']}/audiences"
    headers = {"Authorization": f"Bearer {token}"}
    target = requests.post(api + "/upload_url", headers=headers, timeout=10).json()
    body = "type,value\n" + "".join(
        f"EMAIL_ID_SHA256,{hashlib.sha256(str(i).encode()).hexdigest()}\n" for i in range(1000)
    )
    start = requests.post(
        target["upload_url"],
        headers={"x-goog-resumable": "start", "Content-Type": "text/csv"},
        data=b"",
        timeout=10,
    )
    requests.put(start.headers["Location"], data=body.encode(), timeout=10).raise_for_status()
    created = requests.post(
        api,
        headers=headers,
        json={
            "audience_type": "CUSTOM",
            "subtype": "CUSTOMER_LIST",
            "name": name,
            "audience_id": target["id"],
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


def compile_inline(sql: str, workdir: Path) -> str:
    """The SQL that ``dbt compile --inline`` gives for ``sql`` on the local DuckDB target."""
    result = subprocess.run(
        dbt_command("compile", workdir, "--quiet", "--inline", sql, target="local"),
        cwd=ROOT,
        env={**os.environ, "SPOTIFY_AUDIENCES_DUCKDB": str(workdir / "compile.duckdb")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout.strip()


def copy_project(project: Path) -> None:
    """Copy the package's models, macros, UDFs and data tests into ``project`` (a new
    directory), for tests that build it under another dbt_project.yml or profiles.yml."""
    project.mkdir()
    for name in ("models", "macros", "python_udfs"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests" / "dbt", project / "tests" / "dbt")
