"""Shared fixtures: the demo build and a sandbox on a free loopback port."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# the Snowflake helpers (fakesnow server, Snowpark runtime) serve tests outside tests/snowflake too
sys.path.insert(0, str(Path(__file__).parent / "snowflake"))
from support import Build, dbt_build


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The demo project built once for the whole session (tests must not write to it)."""
    return dbt_build(tmp_path_factory.mktemp("demo-build"))


@pytest.fixture
def sandbox():
    """A fresh sandbox on a free loopback port."""
    from spotify_ads_sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(), host="127.0.0.1", port=0) as server:
        yield server
