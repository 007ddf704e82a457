"""Safe mirroring: the ledger, the unchanged skip, the guards and the dry-run diff.

Each input variant is built once with the real `dbt build`; a test then plays "the upstream
changed and dbt ran again" by copying that build's marts into its working database, which
keeps the ledger tables, exactly as a rebuild into the same file does.
"""

from __future__ import annotations

import csv
import json
import re
import shutil

import duckdb
import pytest
from members_factory import COLUMNS, write_members
from oracle import expected
from support import dbt_build, run_cli

NAME = "Ledger Lab"
MARTS = ("spotify_audience_identifiers", "spotify_audience_rejects", "spotify_audience_summary")


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    root = tmp_path_factory.mktemp("ledger")
    full = write_members(root / "full.csv", seed=301, audiences={NAME: 3000})
    changed = write_members(root / "changed.csv", seed=302, audiences={NAME: 3000})
    with open(full, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    half = root / "half.csv"
    with open(half, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows[: 1 + (len(rows) - 1) * 4 // 10])
    broken = root / "broken.csv"
    with open(broken, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(rows[0])
        email = COLUMNS.index("email")
        for i, row in enumerate(rows[1:]):
            if i % 2 and row[email]:
                row[email] = row[email].replace("@", " at ")
            writer.writerow(row)
    empty = root / "empty.csv"
    empty.write_text(",".join(COLUMNS) + "\nSomeone Else," + "x@example.com" + ",,,,,,\n")
    found = {}
    for label, path in (
        ("full", full),
        ("changed", changed),
        ("half", half),
        ("broken", broken),
        ("empty", empty),
    ):
        found[label] = (dbt_build(root / label, path).duckdb, path)
    return found


class Workspace:
    """One warehouse file that successive "builds" land in, plus the sandbox."""

    def __init__(self, variants, sandbox, tmp_path):
        self.variants = variants
        self.sandbox = sandbox
        self.db = tmp_path / "warehouse.duckdb"
        shutil.copy(variants["full"][0], self.db)

    def build(self, label: str) -> None:
        source = self.variants[label][0]
        con = duckdb.connect(str(self.db))
        try:
            con.execute(f"attach '{source}' as variant (read_only)")
            for table in MARTS:
                con.execute(
                    f"create or replace table main.{table} as select * from variant.main.{table}"
                )
        finally:
            con.close()

    def sync(self, *args: str, env: dict | None = None):
        full_env = {"SPOTIFY_AUDIENCES_DUCKDB": str(self.db), **self.sandbox.env(), **(env or {})}
        return run_cli("sync", "--json", *args, env=full_env)

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

    def members(self, label: str) -> set:
        return expected(self.variants[label][1])[NAME]["members"]


@pytest.fixture
def ws(variants, sandbox, tmp_path):
    return Workspace(variants, sandbox, tmp_path)


def line(result) -> dict:
    rows = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    by_name = {r["audience_name"]: r for r in rows}
    assert NAME in by_name, result.stdout + result.stderr
    return by_name[NAME]


def the_audience(sandbox) -> str:
    ids = [a["id"] for a in sandbox.list_audiences() if a["name"] == NAME]
    assert len(ids) == 1
    return ids[0]


def test_success_then_unchanged_then_force(ws):
    first = ws.sync()
    assert first.returncode == 0, first.stderr
    created = line(first)
    assert created["action"] == "created"
    uploads = len(ws.sandbox.uploads())

    again = ws.sync()
    assert again.returncode == 0, again.stderr
    assert line(again)["action"] == "unchanged"
    assert line(again)["audience_id"] == created["audience_id"]
    assert len(ws.sandbox.uploads()) == uploads, "an unchanged set must send nothing"

    forced = ws.sync("--force")
    assert forced.returncode == 0, forced.stderr
    assert line(forced)["action"] == "replaced"
    assert len(ws.sandbox.uploads()) == uploads + 1

    log = [r for r in ws.log() if r["audience_name"] == NAME]
    # Each upload is preceded by its intent (a pending row of the same run)
    assert [r["action"] for r in log] == ["pending", "created", "unchanged", "pending", "replaced"]
    assert log[0]["run_id"] == log[1]["run_id"] and log[3]["run_id"] == log[4]["run_id"]
    assert log[0]["fingerprint"] == created["sha256"]
    first_row = log[1]
    assert first_row["audience_id"] == created["audience_id"]
    assert first_row["ad_account_id"] == ws.sandbox.env()["SPOTIFY_AD_ACCOUNT_ID"]
    assert json.loads(first_row["counts"]) == created["counts"]
    assert json.loads(first_row["rejected"]) == created["rejected"]
    assert first_row["bytes"] == created["bytes"]
    assert first_row["fingerprint"] == created["sha256"]
    assert first_row["upload_id"] == created["upload_id"]
    assert first_row["started_at"] <= first_row["finished_at"]
    assert len({r["run_id"] for r in log}) == 3
    assert first_row["error_class"] is None


def test_half_sized_input_is_refused_and_the_audience_keeps_its_members(ws):
    assert ws.sync().returncode == 0
    audience_id = the_audience(ws.sandbox)
    ws.build("half")

    refused = ws.sync()

    assert refused.returncode == 3
    row = line(refused)
    assert row["action"] == "refused"
    assert "max_shrink" in row["error"] and "--allow-shrink" in row["error"]
    assert ws.sandbox.audience_members(audience_id) == ws.members("full")
    last = ws.log()[-1]
    assert last["action"] == "refused" and "max_shrink" in last["error_message"]

    allowed = ws.sync("--allow-shrink")
    assert allowed.returncode == 0, allowed.stderr
    assert ws.sandbox.audience_members(audience_id) == ws.members("half")


def test_empty_input_is_refused_and_the_audience_keeps_its_members(ws):
    assert ws.sync().returncode == 0
    audience_id = the_audience(ws.sandbox)
    ws.build("empty")

    refused = ws.sync()

    assert refused.returncode == 3
    row = line(refused)
    assert row["action"] == "refused" and "Guard empty" in row["error"]
    assert ws.sandbox.audience_members(audience_id) == ws.members("full")
    assert ws.log()[-1]["action"] == "refused"


def test_broken_input_is_refused_by_the_rejected_share(ws):
    ws.build("broken")
    refused = ws.sync()
    assert refused.returncode == 3
    row = line(refused)
    assert "max_rejected_share" in row["error"]
    assert ws.sandbox.list_audiences() == []
    assert ws.log()[-1]["action"] == "refused"


def test_dry_run_reports_what_a_sync_would_add_and_remove(ws, tmp_path):
    assert ws.sync().returncode == 0
    ws.build("changed")

    dry = ws.sync("--dry-run", str(tmp_path / "out"))

    assert dry.returncode == 0, dry.stderr
    row = line(dry)
    before, after = ws.members("full"), ws.members("changed")
    assert row["added"] == len(after - before)
    assert row["removed"] == len(before - after)
    assert row["added"] > 0 and row["removed"] > 0
    # the first sync's intent and outcome only: a dry run writes nothing
    assert [r["action"] for r in ws.log()] == ["pending", "created"], "a dry run is not a sync"


def test_a_failed_sync_is_recorded_with_spotify_trace_id(ws):
    ws.sandbox.inject([{"kind": "status", "status": 403, "path": "upload_url", "times": None}])
    failed = ws.sync()
    assert failed.returncode == 5
    last = ws.log()[-1]
    assert last["action"] == "failed"
    assert last["error_class"] == "PermissionDeniedError"
    assert last["sp_trace_id"] and last["sp_trace_id"] in last["error_message"]


def test_status_is_written_back(ws):
    assert ws.sync().returncode == 0
    env = {"SPOTIFY_AUDIENCES_DUCKDB": str(ws.db), **ws.sandbox.env()}
    result = run_cli("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["audience_name"] for r in rows] == [NAME]
    assert rows[0]["status"] in ("PROCESSING", "BOOKABLE", "EMPTY")
    con = duckdb.connect(str(ws.db), read_only=True)
    stored = con.execute("select audience_id, status from main.spotify_audience_status").fetchall()
    con.close()
    assert stored == [(rows[0]["audience_id"], rows[0]["status"])]


def test_no_ledger_column_holds_pii_tokens_or_urls(ws):
    assert ws.sync().returncode == 0
    ws.build("half")
    assert ws.sync().returncode == 3
    ws.sandbox.inject([{"kind": "status", "status": 500, "path": "upload_url", "times": None}])
    ws.build("full")
    assert ws.sync("--force").returncode != 0
    env = ws.sandbox.env()
    con = duckdb.connect(str(ws.db), read_only=True)
    tables = [
        "spotify_audience_sync_log",
        "spotify_audience_uploaded_hashes",
    ]
    text = ""
    for table in tables:
        for row in con.execute(f"select * from main.{table}").fetchall():
            text += " ".join(str(v) for v in row) + "\n"
    con.close()
    assert "@" not in text, "an email address reached the ledger"
    assert not re.search(r"\+\d{8,}", text), "a phone number reached the ledger"
    for secret in (env["SPOTIFY_CLIENT_SECRET"], env["SPOTIFY_REFRESH_TOKEN"]):
        assert secret not in text
    assert "X-Goog" not in text and "/gcs/" not in text and "http" not in text
