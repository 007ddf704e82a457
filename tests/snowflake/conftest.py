"""Fixtures for the Snowflake stand-ins: one fakesnow server and one dbt build on it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from members_factory import write_members
from snowflake_helpers import FakesnowServer, dbt_on_fakesnow, fakesnow_server, load_members
from support import ROOT


@pytest.fixture(scope="session")
def fakesnow() -> FakesnowServer:
    """A fakesnow server for the whole session, with the phone UDF registered."""
    with fakesnow_server() as server:
        yield server


@dataclass
class SnowflakeBuild:
    """The result of `dbt build --target fakesnow` on a members table."""

    members_csv: Path
    members_table: str
    workdir: Path
    stdout: str
    returncode: int
    run_results: dict
    phone_handler_size: int

    @property
    def mart_schema(self) -> str:
        return "SPOTIFY_AUDIENCES.AUDIENCES"


@pytest.fixture(scope="session")
def fakesnow_build(fakesnow: FakesnowServer, tmp_path_factory: pytest.TempPathFactory):
    """The members of two unseen audiences loaded into fakesnow and built by dbt-snowflake."""
    workdir = tmp_path_factory.mktemp("fakesnow-build")
    members_csv = write_members(
        workdir / "crm_export.csv", seed=41, audiences={"Snowfall Fans": 1200, "Ski Season": 1100}
    )
    table = load_members(fakesnow, members_csv)
    handler_size = (ROOT / "python_udfs" / "phone_numbers.py").stat().st_size
    result = dbt_on_fakesnow(
        fakesnow, workdir, "build", "--vars", json.dumps({"audience_members_relation": table})
    )
    run_results_path = workdir / "target" / "run_results.json"
    run_results = json.loads(run_results_path.read_text()) if run_results_path.exists() else {}
    return SnowflakeBuild(
        members_csv=members_csv,
        members_table=table,
        workdir=workdir,
        stdout=result.stdout + result.stderr,
        returncode=result.returncode,
        run_results=run_results,
        phone_handler_size=handler_size,
    )
