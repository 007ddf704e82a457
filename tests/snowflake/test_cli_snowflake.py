"""`spotify-audiences sync` and `status` on a Snowflake target, from outside Snowflake.

The CLI connects through the real dbt-snowflake profile (target ``fakesnow``: host, port and
protocol of the emulator) with the connector dbt-snowflake installs, reads the marts that
dbt-snowflake built, and writes the ledger beside them. Each test gets its own copy of the
built marts in a schema of its own (the profile's schema comes from FAKESNOW_SCHEMA), so the
ledger of one test never meets another's.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from datetime import datetime

import pytest
from oracle import expected
from snowflake_helpers import DATABASE, MARTS
from support import ROOT, run_cli

from spotify_ads_sandbox import Sandbox, SandboxConfig
from spotify_ads_sandbox.config import DEFAULT_AD_ACCOUNT_ID

SECOND_ACCOUNT = "2c9f6f7e-8d1b-4e3a-9b5c-6d7e8f9a0b1c"
_schemas = itertools.count(1)


class SnowflakeMarts:
    """The fakesnow build's marts copied into one schema, and the CLI on that schema."""

    def __init__(self, fakesnow, build, sandbox):
        self.fakesnow = fakesnow
        self.sandbox = sandbox
        self.schema = f"CLI_SYNC_{next(_schemas)}"
        self.members = expected(build.members_csv)
        self.execute(f"create schema if not exists {DATABASE}.{self.schema}")
        for table in MARTS:
            self.execute(
                f"create or replace table {self.qualified(table)} as "
                f"select * from {build.mart_schema}.{table}"
            )

    def qualified(self, table: str) -> str:
        return f"{DATABASE}.{self.schema}.{table}"

    def execute(self, sql: str, params=None) -> list[tuple]:
        import snowflake.connector

        kwargs = {**self.fakesnow.connect_kwargs(), "paramstyle": "qmark"}
        with contextlib.closing(snowflake.connector.connect(**kwargs)) as connection:
            cursor = connection.cursor()
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []

    def cli(self, command: str, *args: str, account: str | None = DEFAULT_AD_ACCOUNT_ID):
        env = {
            **self.sandbox.env(),
            "FAKESNOW_PORT": str(self.fakesnow.port),
            "FAKESNOW_SCHEMA": self.schema,
        }
        del env["SPOTIFY_AD_ACCOUNT_ID"]
        if account:
            env["SPOTIFY_AD_ACCOUNT_ID"] = account
        return run_cli(
            command,
            "--project-dir",
            str(ROOT),
            "--profiles-dir",
            str(ROOT),
            "--target",
            "fakesnow",
            "--json",
            *args,
            env=env,
        )

    def log(self) -> list[dict]:
        with contextlib.closing(self.fakesnow.connect()) as connection:
            cursor = connection.cursor()
            cursor.execute(
                f"select * from {self.qualified('SPOTIFY_AUDIENCE_SYNC_LOG')} "
                "order by finished_at, audience_name"
            )
            names = [d[0].lower() for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def sandbox():
    """A sandbox whose user manages two ad accounts."""
    config = SandboxConfig(other_ad_account_ids=(SECOND_ACCOUNT,))
    with Sandbox(config, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
def marts(fakesnow, fakesnow_build, sandbox):
    assert fakesnow_build.returncode == 0, fakesnow_build.stdout[-3000:]
    return SnowflakeMarts(fakesnow, fakesnow_build, sandbox)


def by_name(result) -> dict[str, dict]:
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {r["audience_name"]: r for r in rows}


def test_cli_syncs_snowflake_marts_and_keeps_the_ledger_in_snowflake(marts):
    first = marts.cli("sync")

    assert first.returncode == 0, first.stderr
    lines = by_name(first)
    assert set(lines) == set(marts.members)
    for name, spec in marts.members.items():
        assert lines[name]["action"] == "created"
        assert marts.sandbox.audience_members(lines[name]["audience_id"]) == spec["members"]
    log = marts.log()
    # each audience: the intent before its upload, then the outcome
    assert {(r["audience_name"], r["action"], r["ad_account_id"]) for r in log} == {
        (name, action, DEFAULT_AD_ACCOUNT_ID)
        for name in marts.members
        for action in ("pending", "created")
    }
    assert {r["audience_name"]: r["fingerprint"] for r in log} == {
        name: line["sha256"] for name, line in lines.items()
    }
    for name, spec in marts.members.items():
        uploaded = marts.execute(
            "select identifier_type, identifier_sha256 from "
            f"{marts.qualified('SPOTIFY_AUDIENCE_UPLOADED_HASHES')} where audience_name = ?",
            [name],
        )
        assert set(uploaded) == spec["members"]

    again = marts.cli("sync")
    assert again.returncode == 0, again.stderr
    assert {r["action"] for r in by_name(again).values()} == {"unchanged"}

    status = marts.cli("status")
    assert status.returncode == 0, status.stderr
    rows = [json.loads(line) for line in status.stdout.splitlines()]
    assert {r["audience_name"] for r in rows} == set(marts.members)
    stored = marts.execute(f"select audience_id from {marts.qualified('SPOTIFY_AUDIENCE_STATUS')}")
    assert {r[0] for r in stored} == {line["audience_id"] for line in lines.values()}


def test_cli_on_snowflake_honours_the_recorded_accounts_and_the_test_gate(marts, tmp_path):
    (north, south) = sorted(marts.members)
    summary = marts.qualified("SPOTIFY_AUDIENCE_SUMMARY")
    with contextlib.suppress(Exception):  # the dbt package may already build the columns
        marts.execute(f"alter table {summary} add column ad_account_id varchar")
    marts.execute(
        f"update {summary} set ad_account_id = ? where audience_name = ?", [SECOND_ACCOUNT, south]
    )
    marts.execute(
        f"create table if not exists {marts.qualified('SPOTIFY_AUDIENCE_BUILD_LOG')} "
        "(invocation_id varchar, recorded_at timestamp, dbt_command varchar, target_name varchar, "
        "marts_built boolean, tests_run integer, tests_failed integer, failed_tests varchar)"
    )
    marts.execute(
        f"insert into {marts.qualified('SPOTIFY_AUDIENCE_BUILD_LOG')} values "
        "('a1b2', ?, 'build', 'fakesnow', true, 12, 1, ?)",
        [datetime(2026, 1, 1, 12), json.dumps([{"name": "unique_crm_email", "status": "fail"}])],
    )

    refused = marts.cli("sync")

    assert refused.returncode == 3
    assert "unique_crm_email (fail)" in refused.stderr
    assert "--ignore-test-failures" in refused.stderr
    assert marts.sandbox.requests() == []

    synced = marts.cli("sync", "--ignore-test-failures")

    assert synced.returncode == 0, synced.stderr
    lines = by_name(synced)
    assert lines[north]["ad_account_id"] == DEFAULT_AD_ACCOUNT_ID
    assert lines[south]["ad_account_id"] == SECOND_ACCOUNT
    assert [a["name"] for a in marts.sandbox.list_audiences(SECOND_ACCOUNT)] == [south]
    assert [a["name"] for a in marts.sandbox.list_audiences(DEFAULT_AD_ACCOUNT_ID)] == [north]
    assert (
        marts.sandbox.audience_members(lines[south]["audience_id"])
        == (marts.members[south]["members"])
    )
    assert {
        (r["audience_name"], r["ad_account_id"], r["ignored_test_failures"]) for r in marts.log()
    } == {
        (north, DEFAULT_AD_ACCOUNT_ID, True),
        (south, SECOND_ACCOUNT, True),
    }

    dry = marts.cli("sync", "--ignore-test-failures", "--dry-run", str(tmp_path / "out"))
    assert dry.returncode == 0, dry.stderr
    assert {(r["added"], r["removed"]) for r in by_name(dry).values()} == {(0, 0)}
