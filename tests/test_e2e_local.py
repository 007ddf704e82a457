"""End to end on the embedded default: real dbt builds, the real CLI, the sandbox over loopback."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from pathlib import Path

from members_factory import write_members
from oracle import expected
from support import DEMO_CSV, create_audience_directly, dbt_build, run_cli


def _sync(build, sandbox, *args: str):
    return run_cli("sync", "--target", "local", *args, env={**build.env(), **sandbox.env()})


def _json_lines(stdout: str) -> dict[str, dict]:
    return {r["audience_name"]: r for r in map(json.loads, stdout.splitlines())}


def test_demo_members_reach_the_sandbox_exactly(demo_build, sandbox):
    want = expected(DEMO_CSV)
    assert len(want) >= 2

    result = _sync(demo_build, sandbox, "--json")

    assert result.returncode == 0, result.stderr
    reported = _json_lines(result.stdout)
    assert set(reported) == set(want)
    audiences = {a["name"]: a for a in sandbox.list_audiences()}
    assert set(audiences) == set(want)
    for name, spec in want.items():
        assert len(spec["members"]) >= 1000
        line = reported[name]
        assert line["action"] == "created"
        assert line["audience_id"] == audiences[name]["id"]
        assert sandbox.audience_members(line["audience_id"]) == spec["members"]
        assert line["counts"] == dict(Counter(t for t, _ in spec["members"]))
        rejected_by_type = Counter()
        for key, count in line["rejected"].items():
            rejected_by_type[key.split("/")[0]] += count
        assert dict(rejected_by_type) == dict(spec["rejected"])
        uploaded = sandbox.audience_file(line["audience_id"])
        assert line["bytes"] == len(uploaded)
        assert line["sha256"] == hashlib.sha256(uploaded).hexdigest()


def test_unseen_members_file_then_change_replaces_the_same_audiences(tmp_path, sandbox):
    first = write_members(
        tmp_path / "crm_export.csv", seed=7, audiences={"Winback 2026": 1500, "VIP fans": 1300}
    )
    build = dbt_build(tmp_path / "build1", first)
    result = _sync(build, sandbox, "--json")
    assert result.returncode == 0, result.stderr
    created = _json_lines(result.stdout)
    want = expected(first)
    for name, spec in want.items():
        assert created[name]["action"] == "created"
        assert sandbox.audience_members(created[name]["audience_id"]) == spec["members"]

    second = write_members(
        tmp_path / "crm_export_next.csv", seed=8, audiences={"Winback 2026": 1400, "VIP fans": 1600}
    )
    build = dbt_build(tmp_path / "build2", second)
    result = _sync(build, sandbox, "--json")
    assert result.returncode == 0, result.stderr
    replaced = _json_lines(result.stdout)
    want = expected(second)
    for name, spec in want.items():
        assert replaced[name]["action"] == "replaced"
        assert replaced[name]["audience_id"] == created[name]["audience_id"]
        assert sandbox.audience_members(replaced[name]["audience_id"]) == spec["members"]
    names = [a["name"] for a in sandbox.list_audiences()]
    assert sorted(names) == sorted(want), "a re-run must not create a second audience"


def test_dry_run_writes_the_exact_files_and_sends_nothing(demo_build, tmp_path):
    out = tmp_path / "out"
    # No Spotify variables at all: a dry run needs no credentials and makes no call.
    result = run_cli("sync", "--dry-run", str(out), "--json", env=demo_build.env())
    assert result.returncode == 0, result.stderr
    want = expected(DEMO_CSV)
    for name, line in _json_lines(result.stdout).items():
        assert line["action"] == "dry_run"
        path = Path(line["file"])
        assert path.parent == out
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["type", "value"]
        assert {tuple(r) for r in rows[1:]} == want[name]["members"]
        assert len(rows) - 1 == len(want[name]["members"]), "no duplicate rows"
        assert path.read_bytes().endswith(b"\n")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == line["sha256"]


def test_only_the_named_audience_is_synced(demo_build, sandbox):
    name = sorted(expected(DEMO_CSV))[0]
    result = _sync(demo_build, sandbox, "--audience", name)
    assert result.returncode == 0, result.stderr
    assert [a["name"] for a in sandbox.list_audiences()] == [name]
    assert name in result.stdout and "created" in result.stdout
    assert "sha256" in result.stdout


def test_unknown_audience_is_an_error_naming_the_built_ones(demo_build, sandbox):
    result = _sync(demo_build, sandbox, "--audience", "No Such Audience")
    assert result.returncode == 7
    assert "No Such Audience" in result.stderr
    assert sandbox.list_audiences() == []


def test_a_second_audience_of_the_name_is_reported_and_an_id_picks_it(tmp_path, sandbox):
    members = write_members(tmp_path / "m.csv", seed=11, audiences={"Twins": 1400})
    build = dbt_build(tmp_path / "build", members)
    first = _sync(build, sandbox, "--json")
    assert first.returncode == 0, first.stderr
    audience_id = _json_lines(first.stdout)["Twins"]["audience_id"]
    # Someone else creates a second audience with the same name through the API.
    sandbox_twin = create_audience_directly(sandbox, "Twins")

    # The ledger knows which audience this sync made: it stays with it, and reports the other.
    again = _sync(build, sandbox, "--json")
    assert again.returncode == 0, again.stderr
    line = _json_lines(again.stdout)["Twins"]
    assert line["audience_id"] == audience_id
    assert sandbox_twin in json.dumps(line["duplicates"])
    assert len(sandbox.list_audiences()) == 2, "no third audience"

    resolved = _sync(build, sandbox, "--json", "--audience-id", f"Twins={sandbox_twin}")
    assert resolved.returncode == 0, resolved.stderr
    assert _json_lines(resolved.stdout)["Twins"]["audience_id"] == sandbox_twin
    assert _json_lines(resolved.stdout)["Twins"]["action"] == "replaced"


def test_too_few_identifiers_is_refused_before_any_call(tmp_path, sandbox):
    members = write_members(tmp_path / "small.csv", seed=3, audiences={"Tiny": 300, "Big": 1400})
    build = dbt_build(tmp_path / "build", members)
    result = _sync(build, sandbox, "--json")
    assert result.returncode == 3
    lines = _json_lines(result.stdout)
    assert lines["Tiny"]["action"] == "refused"
    assert (
        "min_identifiers" in lines["Tiny"]["error"] and "minimum is 1000" in lines["Tiny"]["error"]
    )
    assert lines["Big"]["action"] == "created"
    assert [a["name"] for a in sandbox.list_audiences()] == ["Big"]


def test_missing_required_column_fails_the_build_naming_it(tmp_path):
    bad = tmp_path / "no_phone.csv"
    bad.write_text("audience_name,email,phone_country,device_id\nA,a@example.com,US,\n")
    build = dbt_build(tmp_path / "build", bad, check=False)
    assert build.result.returncode != 0
    assert "phone" in build.result.stdout + build.result.stderr
    assert "missing" in (build.result.stdout + build.result.stderr).lower()


def test_missing_credentials_name_the_variable(demo_build, sandbox):
    env = {**demo_build.env(), **sandbox.env()}
    del env["SPOTIFY_REFRESH_TOKEN"]
    result = run_cli("sync", env=env)
    assert result.returncode == 2
    assert "SPOTIFY_REFRESH_TOKEN" in result.stderr
    assert sandbox.requests() == []


def test_bad_ad_account_id_is_refused_before_any_call(demo_build, sandbox):
    env = {**demo_build.env(), **sandbox.env(), "SPOTIFY_AD_ACCOUNT_ID": "not-a-uuid"}
    result = run_cli("sync", env=env)
    assert result.returncode == 2
    assert "UUID" in result.stderr
    assert sandbox.requests() == []


def test_plain_http_to_a_remote_host_is_refused(demo_build):
    env = {
        **demo_build.env(),
        "SPOTIFY_CLIENT_ID": "x",
        "SPOTIFY_CLIENT_SECRET": "y",
        "SPOTIFY_REFRESH_TOKEN": "z",
        "SPOTIFY_AD_ACCOUNT_ID": "ce4ff15e-f04d-48b9-9ddf-fb3c85fbd57a",
        "SPOTIFY_ADS_API_URL": "http://api.example.com/ads/v3",
    }
    result = run_cli("sync", env=env)
    assert result.returncode == 2
    assert "https" in result.stderr


def test_secrets_never_reach_the_output(demo_build, sandbox):
    env = {**demo_build.env(), **sandbox.env()}
    result = run_cli("-v", "sync", env=env)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert env["SPOTIFY_CLIENT_SECRET"] not in output
    assert env["SPOTIFY_REFRESH_TOKEN"] not in output
    assert "X-Goog-Signature" not in output and "Bearer " not in output
