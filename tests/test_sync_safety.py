"""Safe mirroring under interruption and odd input: pending intents, retire, the ledger's
audience id, file names, early checks, the wide layout and the status size range.

Two real `dbt build`s (inputs A and B of one audience) are made once; a test plays "dbt ran
again" by copying a build's marts into its working database, which keeps the ledger, exactly
as a rebuild into the same file does. The sync is the real CLI against the sandbox.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
from members_factory import write_members
from oracle import expected
from support import BIN, ROOT, create_audience_directly, dbt_build, run_cli

from spotify_audiences.export import audience_file_name, write_audience_csv

NAME = "Safety Net"
MARTS = ("spotify_audience_identifiers", "spotify_audience_rejects", "spotify_audience_summary")
AUDIENCE_GET = r"^/ads/v3/ad_accounts/[^/]+/audiences/[0-9a-f-]+$"
UPLOAD_URL = r"^/ads/v3/ad_accounts/[^/]+/audiences/upload_url"
CREATE = r"^/ads/v3/ad_accounts/[^/]+/audiences$"
SESSION_PUT = r"^/gcs/upload/resumable"
WAIT_SCALE = {"SPOTIFY_AUDIENCES_WAIT_SCALE": "0.001"}


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    root = tmp_path_factory.mktemp("safety")
    found = {}
    for label, seed in (("a", 511), ("b", 512)):
        members = write_members(root / f"{label}.csv", seed=seed, audiences={NAME: 1400})
        found[label] = (dbt_build(root / label, members).duckdb, members)
    return found


class Workspace:
    """One warehouse file that successive "builds" land in, plus the sandbox."""

    def __init__(self, variants, sandbox, tmp_path: Path):
        self.variants = variants
        self.sandbox = sandbox
        self.tmp = tmp_path
        self.db = tmp_path / "warehouse.duckdb"
        shutil.copy(variants["a"][0], self.db)
        self.scratch = tmp_path / "tmp"
        self.scratch.mkdir()

    def execute(self, sql: str, params=None) -> list[tuple]:
        con = duckdb.connect(str(self.db))
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

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

    def clone_audience(self, new_name: str, source: str = NAME) -> None:
        """Another audience with the same rows under ``new_name`` (as a build would write it)."""
        for table in MARTS:
            columns = [r[0] for r in self.execute(f"describe main.{table}")]
            select = ", ".join("?" if c == "audience_name" else c for c in columns)
            self.execute(
                f"insert into main.{table} select {select} from main.{table} "
                "where audience_name = ?",
                [new_name, source],
            )

    def env(self, extra: dict | None = None) -> dict[str, str]:
        return {
            "SPOTIFY_AUDIENCES_DUCKDB": str(self.db),
            "TMPDIR": str(self.scratch),
            **self.sandbox.env(),
            **WAIT_SCALE,
            **(extra or {}),
        }

    def sync(self, *args: str, env: dict | None = None):
        return run_cli("sync", "--json", *args, env=self.env(env))

    def start_sync(self, *args: str) -> subprocess.Popen:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SPOTIFY_")}
        full_env.update(self.env())
        return subprocess.Popen(
            [str(BIN / "spotify-audiences"), "sync", "--json", *args],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def log(self) -> list[dict]:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            cursor = con.execute(
                "select * from main.spotify_audience_sync_log order by finished_at, "
                "case when action = 'pending' then 0 else 1 end"
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


def lines(result) -> dict[str, dict]:
    rows = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    return {r["audience_name"]: r for r in rows}


def line(result) -> dict:
    found = lines(result)
    assert NAME in found, result.stdout + result.stderr
    return found[NAME]


def the_audience(sandbox, name: str = NAME) -> str:
    ids = [a["id"] for a in sandbox.list_audiences() if a["name"] == name]
    assert len(ids) == 1, ids
    return ids[0]


def assert_ledger_truthful(ws: Workspace, name: str = NAME) -> None:
    """The ledger may claim a set only if Spotify holds exactly that set."""
    attempts = [
        r
        for r in ws.log()
        if r["audience_name"] == name
        and r["action"] in ("pending", "created", "replaced", "unchanged", "retired")
    ]
    if not attempts or attempts[-1]["action"] in ("pending", "retired"):
        return  # no claim: the next sync uploads
    claim = attempts[-1]
    held = hashlib.sha256(ws.sandbox.audience_file(claim["audience_id"])).hexdigest()
    assert held == claim["fingerprint"], f"the ledger claims {claim} but Spotify holds another set"


def wait_for(predicate, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the sync ended before {what}: {proc.communicate()}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"timed out waiting for {what}")


# (kill point, fault rule, whether the audience exists before): the request that hangs is the
# step the signal interrupts; the rule is consumed when the request reaches the sandbox.
KILL_POINTS = {
    "upload_url": ({"kind": "delay", "seconds": 40, "method": "POST", "path": UPLOAD_URL}, True),
    "upload_put": ({"kind": "delay", "seconds": 40, "method": "PUT", "path": SESSION_PUT}, True),
    # skip: the first GET of the audience is the check that the ledger's id still exists
    "status_get": (
        {"kind": "delay", "seconds": 40, "method": "GET", "path": AUDIENCE_GET, "skip": 1},
        True,
    ),
    "create": ({"kind": "delay", "seconds": 40, "method": "POST", "path": CREATE}, False),
}
# Kept few for CI time: each case runs the CLI three times.
CASES = [
    ("status_get", signal.SIGINT),
    ("status_get", signal.SIGKILL),
    ("upload_put", signal.SIGTERM),
    ("create", signal.SIGKILL),
]


@pytest.mark.parametrize(("point", "signum"), CASES, ids=[f"{p}-{s.name}" for p, s in CASES])
def test_a_killed_sync_never_leaves_the_ledger_claiming_a_set_spotify_may_not_hold(
    ws, point, signum
):
    rule, exists = KILL_POINTS[point]
    if exists:
        first = ws.sync()
        assert first.returncode == 0, first.stderr
        assert line(first)["action"] == "created"
        ws.build("b")  # the upstream changed: the next sync replaces the list with B
    else:
        ws.build("b")
    ws.sandbox.inject(rule)

    proc = ws.start_sync()
    wait_for(lambda: not ws.sandbox.faults(), proc, f"the {point} request")
    time.sleep(0.2)  # the request is in flight; now interrupt it
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)

    if signum == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 130, (out, err)
        assert "interrupted" in err
        assert "Traceback" not in err
        leftovers = [p.name for p in ws.scratch.iterdir()]
        assert leftovers == [], f"temporary files left behind: {leftovers}"
    assert_ledger_truthful(ws)
    # the intent is on record before anything is sent
    assert ws.log()[-1]["action"] == "pending"
    assert ws.log()[-1]["fingerprint"] is not None

    # Upstream goes back to A: the sync must upload, whatever Spotify holds now.
    ws.sandbox.clear_faults()
    ws.build("a")
    again = ws.sync()
    assert again.returncode == 0, again.stderr
    assert line(again)["action"] in ("replaced", "created"), line(again)
    assert ws.sandbox.audience_members(the_audience(ws.sandbox)) == ws.members("a")
    assert_ledger_truthful(ws)
    assert ws.log()[-1]["action"] in ("replaced", "created")


def test_a_pending_intent_defeats_the_unchanged_skip(ws):
    """The issue's repro without a signal: the intent was recorded, the outcome never was."""
    assert ws.sync().returncode == 0
    audience_id = the_audience(ws.sandbox)
    ws.build("b")
    # B goes up, then the sync "dies" after the upload: its outcome row is missing.
    assert ws.sync().returncode == 0
    ws.execute(
        "delete from main.spotify_audience_sync_log where action = 'replaced' "
        "and finished_at = (select max(finished_at) from main.spotify_audience_sync_log)"
    )
    assert ws.log()[-1]["action"] == "pending"
    ws.build("a")

    result = ws.sync()

    assert result.returncode == 0, result.stderr
    assert line(result)["action"] == "replaced"
    assert ws.sandbox.audience_members(audience_id) == ws.members("a")
    assert "interrupted" in result.stderr


def test_retire_stops_checking_a_vanished_audience_and_a_reappearance_syncs_again(ws):
    assert ws.sync().returncode == 0
    audience_id = the_audience(ws.sandbox)
    before = ws.sandbox.audience_members(audience_id)
    ws.execute("delete from main.spotify_audience_identifiers where audience_name = ?", [NAME])
    ws.execute("delete from main.spotify_audience_rejects where audience_name = ?", [NAME])
    ws.execute("delete from main.spotify_audience_summary where audience_name = ?", [NAME])
    assert ws.sync().returncode == 3, "a vanished audience meets the empty guard"

    dry = ws.sync("--retire", NAME, "--dry-run", str(ws.tmp / "dry"))
    assert dry.returncode == 0, dry.stderr
    assert line(dry)["action"] == "retired"
    assert "retired" not in [r["action"] for r in ws.log()], "a dry run records nothing"

    retired = ws.sync("--retire", NAME)
    assert retired.returncode == 0, retired.stderr
    row = line(retired)
    assert (row["action"], row["audience_id"]) == ("retired", audience_id)
    assert "Ads Manager" in row["note"] and "delete members" in row["note"]
    human = run_cli("sync", "--retire", NAME, env=ws.env())
    assert human.returncode == 2 and "already retired" in human.stderr
    assert ws.log()[-1]["action"] == "retired"
    assert ws.sandbox.audience_members(audience_id) == before, "Spotify is left as it is"

    # Later syncs no longer check it (nothing else in the mart: the empty-mart error, exit 7)
    later = ws.sync()
    assert NAME not in lines(later)
    assert later.returncode != 3

    # The name comes back: it syncs normally, to the audience of that name.
    ws.build("b")
    back = ws.sync()
    assert back.returncode == 0, back.stderr
    assert (line(back)["action"], line(back)["audience_id"]) == ("replaced", audience_id)
    assert ws.sandbox.audience_members(audience_id) == ws.members("b")


def test_retire_refuses_a_name_still_in_the_mart(ws):
    assert ws.sync().returncode == 0
    result = ws.sync("--retire", NAME)
    assert result.returncode == 2
    assert "Still built in the mart" in result.stderr
    assert "retired" not in [r["action"] for r in ws.log()]


def test_the_ledger_audience_id_wins_over_a_second_audience_of_the_same_name(ws):
    first = ws.sync()
    assert first.returncode == 0
    ours = line(first)["audience_id"]
    theirs = create_audience_directly(ws.sandbox, NAME)
    theirs_members = ws.sandbox.audience_members(theirs)
    ws.build("b")

    result = ws.sync()

    assert result.returncode == 0, result.stderr
    row = line(result)
    assert (row["action"], row["audience_id"]) == ("replaced", ours)
    assert row["duplicates"] == [theirs]
    assert theirs in result.stderr
    assert ws.sandbox.audience_members(ours) == ws.members("b")
    assert ws.sandbox.audience_members(theirs) == theirs_members
    assert len([a for a in ws.sandbox.list_audiences() if a["name"] == NAME]) == 2


def test_a_ledger_audience_id_gone_from_spotify_falls_back_to_the_name(ws):
    first = ws.sync()
    assert first.returncode == 0
    audience_id = line(first)["audience_id"]
    ws.execute(
        "update main.spotify_audience_sync_log set audience_id = ?",
        ["0b9d6d36-5a0e-4c3a-9a55-3f1f2b1e0c00"],
    )
    ws.build("b")
    result = ws.sync()
    assert result.returncode == 0, result.stderr
    assert (line(result)["action"], line(result)["audience_id"]) == ("replaced", audience_id)
    assert "no longer exists" in result.stderr


def test_dry_run_file_names_are_unique_per_exact_name(ws, tmp_path):
    odd = ["Foo Bar", "foo-bar", "🎧🎵", "音楽リスト"]
    for name in odd:
        ws.clone_audience(name)
    out = tmp_path / "out"
    result = run_cli("sync", "--json", "--dry-run", str(out), env=ws.env())
    assert result.returncode == 0, result.stderr
    found = lines(result)
    files = {found[n]["file"] for n in [NAME, *odd]}
    assert len(files) == 5, files
    for name in odd:
        assert Path(found[name]["file"]).read_bytes() == Path(found[NAME]["file"]).read_bytes()
    assert audience_file_name("Foo Bar") != audience_file_name("foo-bar")
    assert audience_file_name("🎧") != audience_file_name("🎵")


def test_a_dry_run_writes_nothing_and_works_on_a_read_only_database(ws, tmp_path):
    assert ws.sync().returncode == 0
    ws.build("b")
    ws.execute("update main.spotify_audience_summary set min_identifiers = 999999")
    rows_before = ws.log()
    ro = tmp_path / "ro"
    ro.mkdir()
    shutil.copy(ws.db, ro / "w.duckdb")
    (ro / "w.duckdb").chmod(0o444)
    # A read-only open is what makes this work: a writable open of a file that another
    # process holds is refused by DuckDB, a read-only one is not.
    holder = duckdb.connect(str(ro / "w.duckdb"), read_only=True)
    try:
        refused = run_cli(
            "sync",
            "--json",
            "--dry-run",
            str(tmp_path / "out"),
            env={"SPOTIFY_AUDIENCES_DUCKDB": str(ro / "w.duckdb")},
        )
    finally:
        holder.close()
    assert refused.returncode == 3, refused.stderr
    assert line(refused)["action"] == "refused"
    con = duckdb.connect(str(ro / "w.duckdb"), read_only=True)
    count = con.execute("select count(*) from main.spotify_audience_sync_log").fetchone()[0]
    con.close()
    assert count == len(rows_before), "a dry run wrote to the ledger"

    # A warehouse with no ledger yet: the dry run creates none
    fresh = tmp_path / "fresh.duckdb"
    shutil.copy(ws.variants["a"][0], fresh)
    ok = run_cli(
        "sync",
        "--json",
        "--dry-run",
        str(tmp_path / "o2"),
        env={"SPOTIFY_AUDIENCES_DUCKDB": str(fresh)},
    )
    assert ok.returncode == 0, ok.stderr
    con = duckdb.connect(str(fresh), read_only=True)
    tables = {r[0] for r in con.execute("show tables").fetchall()}
    con.close()
    assert "spotify_audience_sync_log" not in tables


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--timeout", "0"), "--timeout"),
        (("--timeout", "-1"), "--timeout"),
        (("--timeout", "nan"), "--timeout"),
        (("--deadline", "-1"), "--deadline"),
        (("--deadline", "nan"), "--deadline"),
        (("--chunk-size", "1000"), "--chunk-size"),
        (("--chunk-size", "0"), "--chunk-size"),
        (("--description", "x" * 81), "--description"),
    ],
)
def test_bad_options_are_one_line_errors_before_any_call(ws, args, needle):
    result = ws.sync(*args)
    assert result.returncode == 2
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert ws.sandbox.requests() == []


def test_a_description_too_long_in_the_summary_is_refused_before_any_call(ws):
    ws.execute(
        "alter table main.spotify_audience_summary add column if not exists description varchar"
    )
    ws.execute("update main.spotify_audience_summary set description = ?", ["d" * 81])
    result = ws.sync()
    assert result.returncode == 2, result.stderr
    assert "81 characters" in line(result)["error"]
    assert ws.sandbox.requests() == []


def test_an_endpoint_port_out_of_range_is_a_one_line_error(ws):
    bad = ws.sandbox.env()["SPOTIFY_ADS_API_URL"].replace(f":{ws.sandbox.port}", ":99999")
    result = ws.sync(env={"SPOTIFY_ADS_API_URL": bad})
    assert result.returncode == 2
    assert "invalid port" in result.stderr and "Traceback" not in result.stderr


def test_an_unwritable_or_full_dry_run_directory_is_a_clear_error(ws, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = ws.sync("--dry-run", str(blocker / "out"))
    assert result.returncode == 1, result.stderr
    assert "Cannot write the file" in line(result)["error"]
    assert "Traceback" not in result.stderr

    full = tmp_path / "full"
    full.mkdir()
    (full / audience_file_name(NAME)).symlink_to("/dev/full")
    result = ws.sync("--dry-run", str(full))
    assert result.returncode == 1, result.stderr
    assert "No space left on device" in line(result)["error"]
    assert "Traceback" not in result.stderr


def test_a_name_with_control_characters_cannot_forge_log_or_output_lines(ws):
    evil = "Evil\nINFO spotify_audiences.sync: forged\r\x1b[2K"
    ws.clone_audience(evil)
    result = run_cli("sync", "--audience", evil, env=ws.env())
    assert result.returncode == 0, result.stderr
    for text in (result.stdout, result.stderr):
        assert not any(
            x.startswith("INFO spotify_audiences.sync: forged") for x in text.splitlines()
        )
        assert "\x1b" not in text and "\r" not in text
    assert "Evil\\nINFO" in result.stderr and "Evil\\nINFO" in result.stdout


def test_the_wide_layout_carries_the_same_set(ws):
    result = ws.sync("--layout", "wide")
    assert result.returncode == 0, result.stderr
    row = line(result)
    assert row["layout"] == "wide"
    audience_id = row["audience_id"]
    assert ws.sandbox.audience_members(audience_id) == ws.members("a")
    content = ws.sandbox.audience_file(audience_id).decode()
    header = content.splitlines()[0].split(",")
    present = [
        t
        for t in ("EMAIL_ID_SHA256", "PHONE_NUMBER_SHA256", "DEVICE_ID_SHA256")
        if t in {k for k, _ in ws.members("a")}
    ]
    assert header == present
    assert hashlib.sha256(content.encode()).hexdigest() == row["sha256"]

    again = ws.sync("--layout", "wide")
    assert line(again)["action"] == "unchanged", "the same set gives the same bytes"
    switched = ws.sync("--layout", "long")
    assert line(switched)["action"] == "replaced", "the fingerprint is the file's"
    assert ws.sandbox.audience_members(audience_id) == ws.members("a")


def test_wide_bytes_are_deterministic_and_columns_run_out_empty(tmp_path):
    rows = [("EMAIL_ID_SHA256", f"{i:064x}") for i in range(3)] + [
        ("DEVICE_ID_SHA256", f"{i + 100:064x}") for i in range(1)
    ]
    one = write_audience_csv([rows[:2], rows[2:]], tmp_path / "1.csv", layout="wide")
    two = write_audience_csv([rows], tmp_path / "2.csv", layout="wide")
    assert one.sha256 == two.sha256
    text = (tmp_path / "1.csv").read_text()
    assert text.splitlines() == [
        "EMAIL_ID_SHA256,DEVICE_ID_SHA256",
        f"{0:064x},{100:064x}",
        f"{1:064x},",
        f"{2:064x},",
    ]
    assert one.counts == {"EMAIL_ID_SHA256": 3, "DEVICE_ID_SHA256": 1}


def test_suppressed_counts_reach_the_result_and_the_ledger(ws):
    ws.execute(
        "update main.spotify_audience_summary set suppressed_email = 7, suppressed_phone = 2, "
        "suppressed_device_id = 0, identifiers_suppressed = 9"
    )
    result = ws.sync()
    assert result.returncode == 0, result.stderr
    want = {"EMAIL_ID_SHA256": 7, "PHONE_NUMBER_SHA256": 2}
    assert line(result)["suppressed"] == want
    assert json.loads(ws.log()[-1]["suppressed"]) == want
    human = run_cli("sync", "--dry-run", str(ws.tmp / "h"), env=ws.env())
    assert "suppressed   9" in human.stdout


def test_status_writes_back_the_size_range(ws):
    assert ws.sync().returncode == 0
    audience_id = the_audience(ws.sandbox)
    result = run_cli("status", "--json", env=ws.env())
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(x) for x in result.stdout.splitlines()]
    snapshot = next(a for a in ws.sandbox.list_audiences() if a["id"] == audience_id)
    size = snapshot["size"]
    assert size["max"] > size["min"] > 0
    assert (row["size_min"], row["size_max"]) == (size["min"], size["max"])
    con = duckdb.connect(str(ws.db), read_only=True)
    stored = con.execute(
        "select audience_id, status, size_min, size_max, identifiers_uploaded "
        "from main.spotify_audience_status"
    ).fetchall()
    con.close()
    assert stored == [
        (audience_id, snapshot["status"], size["min"], size["max"], len(ws.members("a")))
    ]
