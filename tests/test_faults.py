"""The sync against an independent Spotify that misbehaves, each case through the real CLI.

Transient faults: the sync finishes with exactly one audience holding exactly the expected
identifiers. Permanent faults: it exits non-zero with an actionable message, and the audience
keeps the members it had. Waits are scaled down (SPOTIFY_AUDIENCES_WAIT_SCALE), so no test
sleeps for the real backoff time; the logs still show the nominal waits.
"""

from __future__ import annotations

import json

import pytest
from members_factory import write_members
from oracle import expected
from support import dbt_build, run_cli

NAME = "Fault Lab"
CHUNK = 256 * 1024
SESSION = r"^/gcs/upload/resumable"
FAST = {"SPOTIFY_AUDIENCES_WAIT_SCALE": "0.001"}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """Two versions of one audience, big enough for a multi-chunk upload (~0.9 MB files)."""
    root = tmp_path_factory.mktemp("faults")
    found = {}
    for label, seed in (("a", 101), ("b", 202)):
        members = write_members(root / f"{label}.csv", seed=seed, audiences={NAME: 8000})
        found[label] = (dbt_build(root / f"build-{label}", members), expected(members)[NAME])
    return found


def sync(build, sandbox, *args, env=None):
    full_env = {**build.env(), **sandbox.env(), **FAST, **(env or {})}
    return run_cli("sync", "--json", "--chunk-size", str(CHUNK), *args, env=full_env)


def only_audience(sandbox) -> dict:
    named = [a for a in sandbox.list_audiences() if a["name"] == NAME]
    assert len(named) == 1, f"expected exactly one audience named {NAME!r}, got {len(named)}"
    return named[0]


def parse(result) -> dict:
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, result.stdout + result.stderr
    return lines[0]


TRANSIENT = {
    "429 on the name lookup": [{"kind": "rate_limit", "method": "GET", "retry_after": 30}],
    "429 on create": [
        {"kind": "rate_limit", "method": "POST", "path": "/audiences$", "retry_after": 5}
    ],
    "503 twice on the name lookup": [
        {"kind": "status", "status": 503, "method": "GET", "path": "/audiences$", "times": 2}
    ],
    "500 on the upload URL": [
        {"kind": "status", "status": 500, "method": "POST", "path": "upload_url$"}
    ],
    "401 mid-sync (token revoked)": [
        {"kind": "unauthorized", "method": "POST", "path": "upload_url$"}
    ],
    "502 on the token endpoint": [{"kind": "status", "status": 502, "path": "^/api/token$"}],
    "slow name lookup past the timeout": [
        {"kind": "delay", "seconds": 2.5, "method": "GET", "path": "/audiences$"}
    ],
    "create commits, then the connection drops": [
        {"kind": "commit_then_drop", "method": "POST", "path": "/audiences$"}
    ],
    "connection dropped mid-chunk": [
        {"kind": "drop_after_bytes", "method": "PUT", "path": SESSION, "skip": 1, "bytes": 100_000}
    ],
    "503 on a chunk": [
        {"kind": "status", "status": 503, "method": "PUT", "path": SESSION, "skip": 2}
    ],
    "upload session gone": [{"kind": "session_gone", "method": "PUT", "path": SESSION, "skip": 1}],
}


@pytest.mark.parametrize("faults", list(TRANSIENT.values()), ids=list(TRANSIENT))
def test_transient_fault_still_ends_with_one_exact_audience(builds, sandbox, faults):
    build, want = builds["a"]
    sandbox.inject(faults)

    result = sync(build, sandbox, "--timeout", "1.5")

    assert result.returncode == 0, result.stderr
    line = parse(result)
    audience = only_audience(sandbox)
    assert line["audience_id"] == audience["id"]
    assert sandbox.audience_members(audience["id"]) == want["members"]
    assert sandbox.faults() == [], "the fault was never hit: the test proves nothing"


def test_every_wait_is_logged_with_its_length(builds, sandbox):
    build, _ = builds["a"]
    sandbox.inject([{"kind": "rate_limit", "method": "GET", "retry_after": 42}])
    result = sync(build, sandbox)
    assert result.returncode == 0, result.stderr
    assert "rate limit (429)" in result.stderr
    assert "waiting 42.0 s" in result.stderr


def test_drop_mid_upload_resends_at_most_one_chunk(builds, sandbox):
    build, _ = builds["a"]
    first = sync(build, sandbox)
    assert first.returncode == 0, first.stderr
    audience_id = parse(first)["audience_id"]
    build_b, want_b = builds["b"]
    sandbox.inject(
        [{"kind": "drop_after_bytes", "method": "PUT", "path": SESSION, "skip": 1, "bytes": 50_000}]
    )

    result = sync(build_b, sandbox)

    assert result.returncode == 0, result.stderr
    assert parse(result)["action"] == "replaced"
    assert sandbox.audience_members(audience_id) == want_b["members"]
    replacement = [u for u in sandbox.uploads() if u["mode"] == "replace"][-1]
    assert replacement["size"] > 3 * CHUNK
    assert replacement["sessions"] == 1
    assert 0 <= replacement["bytes_received"] - replacement["size"] <= CHUNK
    dropped = [r for r in sandbox.requests() if r["fault"] == "drop_after_bytes"]
    assert len(dropped) == 1 and dropped[0]["status"] is None
    assert "resuming at byte" in result.stderr


PERMANENT = {
    "refresh token expired": (
        [{"kind": "invalid_grant", "reason": "expired", "times": None}],
        4,
        "spotify-audiences login",
    ),
    "403 permissions or API terms": (
        [{"kind": "status", "status": 403, "path": "upload_url", "times": None}],
        5,
        "adsmanager.spotify.com/api-terms",
    ),
    "401 that a refresh does not cure": (
        [{"kind": "unauthorized", "path": "upload_url", "times": None}],
        4,
        "spotify-audiences login",
    ),
    "rate limited past the deadline": (
        [{"kind": "rate_limit", "path": "upload_url", "retry_after": 30, "times": None}],
        5,
        "rate limited",
    ),
    "5xx on every chunk": (
        [{"kind": "status", "status": 503, "method": "PUT", "path": SESSION, "times": None}],
        5,
        "not changed",
    ),
    "upload too slow for the timeout": (
        [{"kind": "delay", "seconds": 2.5, "method": "PUT", "path": SESSION, "times": None}],
        None,
        "--timeout",
    ),
}


@pytest.mark.parametrize(
    ("faults", "exit_code", "advice"), list(PERMANENT.values()), ids=list(PERMANENT)
)
def test_permanent_fault_exits_with_advice_and_leaves_the_audience(
    builds, sandbox, faults, exit_code, advice
):
    build_a, want_a = builds["a"]
    first = sync(build_a, sandbox)
    assert first.returncode == 0, first.stderr
    audience_id = parse(first)["audience_id"]
    build_b, _ = builds["b"]
    sandbox.inject(faults)

    result = sync(build_b, sandbox, "--timeout", "1.5", "--deadline", "600")

    assert result.returncode != 0
    if exit_code is not None:
        assert result.returncode == exit_code, result.stdout + result.stderr
    line = parse(result)
    assert line["action"] == "failed"
    assert advice in line["error"]
    sandbox.clear_faults()
    assert only_audience(sandbox)["id"] == audience_id
    assert sandbox.audience_members(audience_id) == want_a["members"]


def test_unknown_ad_account_says_what_to_check(builds, sandbox):
    build, _ = builds["a"]
    env = {"SPOTIFY_AD_ACCOUNT_ID": "0c0ffee0-0000-4000-8000-000000000000"}
    result = sync(build, sandbox, env=env)
    assert result.returncode == 5
    error = parse(result)["error"]
    assert "HTTP 404" in error and "SPOTIFY_AD_ACCOUNT_ID" in error and "sp_trace_id" in error
