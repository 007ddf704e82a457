"""Per-audience settings and ad accounts from the summary mart, and the test gate, on DuckDB.

One real `dbt build` makes the marts; each test copies its DuckDB file and then writes, by
hand, what the build of the dbt package records beside the marts: the settings columns of
``spotify_audience_summary`` and rows of ``spotify_audience_build_log`` (their layout is the
interface between the dbt package and the sync). The sync is the real CLI, against a sandbox
where the user manages two ad accounts.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from members_factory import write_members
from oracle import expected
from support import create_audience_directly, dbt_build, run_cli

from spotify_ads_sandbox import Sandbox, SandboxConfig
from spotify_ads_sandbox.config import DEFAULT_AD_ACCOUNT_ID

SECOND_ACCOUNT = "7b1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
NORTH, SOUTH, EAST = "North Stars", "South Winds", "East Tides"
SETTINGS_COLUMNS = {
    "ad_account_id": "varchar",
    "audience_id": "varchar",
    "description": "varchar",
    "min_identifiers": "integer",
    "max_shrink": "double",
    "max_rejected_share": "double",
}
BUILD_LOG_DDL = (
    "create table if not exists main.spotify_audience_build_log (invocation_id varchar, "
    "recorded_at timestamp, dbt_command varchar, target_name varchar, marts_built boolean, "
    "tests_run integer, tests_failed integer, failed_tests varchar)"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("accounts")
    members = write_members(
        root / "crm.csv", seed=907, audiences={NORTH: 1200, SOUTH: 1100, EAST: 1050}
    )
    return dbt_build(root / "build", members).duckdb, members


@pytest.fixture
def sandbox():
    """A sandbox whose user manages two ad accounts."""
    config = SandboxConfig(other_ad_account_ids=(SECOND_ACCOUNT,))
    with Sandbox(config, host="127.0.0.1", port=0) as server:
        yield server


class Warehouse:
    """A copy of the build's DuckDB file, edited as the dbt package's build would write it."""

    def __init__(self, built, sandbox, tmp_path):
        self.db = tmp_path / "audiences.duckdb"
        shutil.copy(built[0], self.db)
        self.members = expected(built[1])
        self.sandbox = sandbox

    def execute(self, sql: str, params=None) -> list[tuple]:
        con = duckdb.connect(str(self.db))
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def settings(self, by_audience: dict[str, dict]) -> None:
        """The settings columns of the summary, defaults first, then per audience."""
        for column, kind in SETTINGS_COLUMNS.items():
            self.execute(
                "alter table main.spotify_audience_summary "
                f"add column if not exists {column} {kind}"
            )
        self.execute(
            "update main.spotify_audience_summary set ad_account_id = null, audience_id = null, "
            "description = null, min_identifiers = 1000, max_shrink = 0.5, "
            "max_rejected_share = 0.2"
        )
        for name, values in by_audience.items():
            assignments = ", ".join(f"{column} = ?" for column in values)
            self.execute(
                f"update main.spotify_audience_summary set {assignments} where audience_name = ?",
                [*values.values(), name],
            )

    def record_build(self, failed: list[dict], *, minutes_ago: int = 0) -> None:
        """One row of the build log, as the package's on-run-end writes it."""
        self.execute(BUILD_LOG_DDL)
        self.execute(
            "insert into main.spotify_audience_build_log values (?, ?, 'build', 'local', true, "
            "?, ?, ?)",
            [
                f"inv-{len(failed)}-{minutes_ago}",
                datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=minutes_ago),
                40,
                len(failed),
                json.dumps(failed),
            ],
        )

    def drop(self, name: str) -> None:
        """The audience disappears upstream and dbt runs again."""
        for table in ("identifiers", "rejects", "summary"):
            self.execute(
                f"delete from main.spotify_audience_{table} where audience_name = ?", [name]
            )

    def cli(self, *args: str, account: str | None = None, sync: bool = True):
        env = {"SPOTIFY_AUDIENCES_DUCKDB": str(self.db), **self.sandbox.env()}
        del env["SPOTIFY_AD_ACCOUNT_ID"]
        if account:
            env["SPOTIFY_AD_ACCOUNT_ID"] = account
        command = ("sync", "--target", "local") if sync else ("status", "--target", "local")
        return run_cli(*command, "--json", *args, env=env)

    def log(self) -> list[dict]:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            cursor = con.execute(
                "select * from main.spotify_audience_sync_log order by finished_at"
            )
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            con.close()


@pytest.fixture
def wh(built, sandbox, tmp_path):
    return Warehouse(built, sandbox, tmp_path)


def by_name(result) -> dict[str, dict]:
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {r["audience_name"]: r for r in rows}


def test_each_audience_syncs_to_its_own_ad_account(wh):
    wh.settings(
        {NORTH: {"ad_account_id": DEFAULT_AD_ACCOUNT_ID}, SOUTH: {"ad_account_id": SECOND_ACCOUNT}}
    )

    # No SPOTIFY_AD_ACCOUNT_ID: the audience that names no account fails, alone.
    first = wh.cli()

    assert first.returncode == 2, first.stderr
    lines = by_name(first)
    assert (lines[NORTH]["action"], lines[NORTH]["ad_account_id"]) == (
        "created",
        DEFAULT_AD_ACCOUNT_ID,
    )
    assert (lines[SOUTH]["action"], lines[SOUTH]["ad_account_id"]) == ("created", SECOND_ACCOUNT)
    assert lines[EAST]["action"] == "failed"
    assert (
        "ad_account_id" in lines[EAST]["error"] and "SPOTIFY_AD_ACCOUNT_ID" in lines[EAST]["error"]
    )
    for account, name in ((DEFAULT_AD_ACCOUNT_ID, NORTH), (SECOND_ACCOUNT, SOUTH)):
        (audience,) = wh.sandbox.list_audiences(account)
        assert audience["name"] == name and audience["id"] == lines[name]["audience_id"]
        assert wh.sandbox.audience_members(audience["id"]) == wh.members[name]["members"]

    # The env account is the default of the audiences that name none.
    second = wh.cli(account=DEFAULT_AD_ACCOUNT_ID)

    assert second.returncode == 0, second.stderr
    lines = by_name(second)
    assert {n: r["action"] for n, r in lines.items()} == {
        NORTH: "unchanged",
        SOUTH: "unchanged",
        EAST: "created",
    }
    assert sorted(a["name"] for a in wh.sandbox.list_audiences(DEFAULT_AD_ACCOUNT_ID)) == [
        EAST,
        NORTH,
    ]
    assert [a["name"] for a in wh.sandbox.list_audiences(SECOND_ACCOUNT)] == [SOUTH]
    accounts = {(r["audience_name"], r["action"]): r["ad_account_id"] for r in wh.log()}
    assert accounts[(SOUTH, "created")] == accounts[(SOUTH, "unchanged")] == SECOND_ACCOUNT
    assert accounts[(EAST, "created")] == DEFAULT_AD_ACCOUNT_ID
    assert accounts[(EAST, "failed")] is None

    # South vanishes upstream: it is checked against the account it was synced to.
    wh.drop(SOUTH)
    third = wh.cli(account=DEFAULT_AD_ACCOUNT_ID)

    assert third.returncode == 3, third.stderr
    south = by_name(third)[SOUTH]
    assert (south["action"], south["ad_account_id"]) == ("refused", SECOND_ACCOUNT)
    assert "Guard empty" in south["error"]
    assert wh.sandbox.audience_members(lines[SOUTH]["audience_id"]) == wh.members[SOUTH]["members"]

    # status covers every account of the ledger, not only the env one.
    status = wh.cli(sync=False)
    assert status.returncode == 0, status.stderr
    rows = [json.loads(line) for line in status.stdout.splitlines()]
    assert {(r["audience_name"], r["ad_account_id"]) for r in rows} == {
        (NORTH, DEFAULT_AD_ACCOUNT_ID),
        (EAST, DEFAULT_AD_ACCOUNT_ID),
        (SOUTH, SECOND_ACCOUNT),
    }


def test_the_settings_the_build_recorded_are_honoured(wh):
    existing = create_audience_directly(wh.sandbox, "Made in Ads Manager")
    wh.settings(
        {
            NORTH: {"audience_id": existing},
            SOUTH: {"min_identifiers": 5000},
            EAST: {"description": "Eastern tides, from the CRM"},
        }
    )

    result = wh.cli(account=DEFAULT_AD_ACCOUNT_ID)

    assert result.returncode == 3, result.stderr
    lines = by_name(result)
    assert (lines[NORTH]["action"], lines[NORTH]["audience_id"]) == ("replaced", existing)
    assert wh.sandbox.audience_members(existing) == wh.members[NORTH]["members"]
    assert lines[SOUTH]["action"] == "refused"
    assert "minimum is 5000" in lines[SOUTH]["error"]
    east = {a["name"]: a for a in wh.sandbox.list_audiences()}[EAST]
    assert east["description"] == "Eastern tides, from the CRM"

    # The CLI still overrides the recorded threshold.
    forced = wh.cli("--audience", SOUTH, "--min-identifiers", "1000", account=DEFAULT_AD_ACCOUNT_ID)
    assert forced.returncode == 0, forced.stderr
    assert by_name(forced)[SOUTH]["action"] == "created"


def test_a_summary_without_settings_columns_falls_back_with_a_warning(wh, tmp_path):
    for column in SETTINGS_COLUMNS:
        wh.execute(f"alter table main.spotify_audience_summary drop column if exists {column}")
    result = wh.cli("--dry-run", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "no settings columns" in result.stderr
    assert set(by_name(result)) == {NORTH, SOUTH, EAST}


def test_failed_tests_of_the_last_build_refuse_the_sync_until_ignored(wh):
    wh.settings({})
    wh.execute(BUILD_LOG_DDL)
    wh.execute("delete from main.spotify_audience_build_log")  # the fixture build's own row
    wh.record_build([], minutes_ago=30)  # an older, green build does not count
    wh.record_build(
        [
            {"name": "not_null_crm_north_stars_email", "status": "fail"},
            {"name": "assert_every_identifier_is_hashed_or_rejected", "status": "error"},
        ],
        minutes_ago=5,
    )

    refused = wh.cli(account=DEFAULT_AD_ACCOUNT_ID)

    assert refused.returncode == 3
    assert refused.stdout == ""
    assert "not_null_crm_north_stars_email (fail)" in refused.stderr
    assert "assert_every_identifier_is_hashed_or_rejected (error)" in refused.stderr
    assert "--ignore-test-failures" in refused.stderr
    assert wh.sandbox.requests() == []

    ignored = wh.cli("--ignore-test-failures", account=DEFAULT_AD_ACCOUNT_ID)

    assert ignored.returncode == 0, ignored.stderr
    assert {r["action"] for r in by_name(ignored).values()} == {"created"}
    # three audiences, each a pending intent and its outcome
    assert [r["ignored_test_failures"] for r in wh.log()] == [True] * 6

    # The next build passes: the gate opens, and nothing was ignored.
    wh.record_build([], minutes_ago=0)
    again = wh.cli("--force", account=DEFAULT_AD_ACCOUNT_ID)
    assert again.returncode == 0, again.stderr
    assert [r["ignored_test_failures"] for r in wh.log()][6:] == [False] * 6


def test_a_ledger_of_an_older_version_gains_the_new_column(wh):
    wh.execute(
        "create table main.spotify_audience_sync_log (run_id varchar, started_at timestamp, "
        "finished_at timestamp, audience_name varchar, ad_account_id varchar, action varchar, "
        "audience_id varchar, counts varchar, rejected varchar, identifiers bigint, bytes bigint, "
        "fingerprint varchar, upload_id varchar, error_class varchar, error_message varchar, "
        "sp_trace_id varchar)"
    )
    result = wh.cli("--audience", NORTH, account=DEFAULT_AD_ACCOUNT_ID)
    assert result.returncode == 0, result.stderr
    pending, row = wh.log()
    assert pending["action"] == "pending" and pending["suppressed"] == "{}"
    assert row["action"] == "created" and row["ignored_test_failures"] is False


def test_an_allow_list_refuses_an_account_the_summary_names(wh):
    """The Snowflake procedure's allow-list also covers each audience's own ad account."""
    import dataclasses

    from spotify_audiences.config import SpotifySettings
    from spotify_audiences.in_warehouse import SyncRequest, run_sync
    from spotify_audiences.warehouse import DuckDBMartReader

    wh.settings({SOUTH: {"ad_account_id": SECOND_ACCOUNT}})
    request = SyncRequest.parse([NORTH, SOUTH], {"raise_on_failure": False})
    request = dataclasses.replace(
        request,
        options=dataclasses.replace(request.options, allowed_ad_accounts=(DEFAULT_AD_ACCOUNT_ID,)),
    )
    results = run_sync(
        lambda: DuckDBMartReader(wh.db, read_only=False),
        SpotifySettings.from_env(wh.sandbox.env()),
        request,
    )
    got = {r["audience_name"]: r for r in results}
    assert got[NORTH]["action"] == "created"
    assert got[SOUTH]["action"] == "failed"
    assert "may not sync to" in got[SOUTH]["error"] and SECOND_ACCOUNT in got[SOUTH]["error"]
    assert not any(SECOND_ACCOUNT in (r.get("path") or "") for r in wh.sandbox.requests())
