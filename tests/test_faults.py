"""The sync against an independent Spotify that misbehaves, each case through the real CLI.

Transient faults: the sync finishes with exactly one audience holding exactly the expected
identifiers. Permanent faults: it exits non-zero with an actionable message, and the audience
keeps the members it had. Waits are scaled down (SPOTIFY_AUDIENCES_WAIT_SCALE), so no test
sleeps for the real backoff time; the logs still show the nominal waits.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time

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


def sync(build, sandbox, *args, env=None, timeout=300):
    full_env = {**build.env(), **sandbox.env(), **FAST, **(env or {})}
    return run_cli(
        "sync", "--json", "--chunk-size", str(CHUNK), *args, env=full_env, timeout=timeout
    )


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


class Recorder:
    """A loopback listener that records every request it gets: where a redirect would lead."""

    def __init__(self):
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received.append((self.command, self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    listener = Recorder()
    yield listener
    listener.close()


def synced_once(builds, sandbox):
    """Sync input A, then return (audience id, A's members, build B)."""
    build_a, want_a = builds["a"]
    first = sync(build_a, sandbox)
    assert first.returncode == 0, first.stderr
    return parse(first)["audience_id"], want_a["members"], builds["b"][0]


def test_storage_that_answers_308_without_progress_fails_after_a_bounded_retry(builds, sandbox):
    audience_id, members_a, build_b = synced_once(builds, sandbox)
    sandbox.inject({"kind": "no_progress", "skip": 1, "times": None})

    result = sync(build_b, sandbox, "--deadline", "600", timeout=120)

    assert result.returncode == 5, result.stdout + result.stderr
    line = parse(result)
    assert line["action"] == "failed"
    assert "no progress" in line["error"] and "not changed" in line["error"]
    stalled = [r for r in sandbox.requests() if r["fault"] == "no_progress"]
    assert 1 <= len(stalled) <= 10
    sandbox.clear_faults()
    assert only_audience(sandbox)["id"] == audience_id
    assert sandbox.audience_members(audience_id) == members_a


def test_deadline_bounds_a_request_that_hangs(builds, sandbox):
    audience_id, members_a, build_b = synced_once(builds, sandbox)
    # The deadline counts the export too, so it leaves room for a loaded machine; the answer
    # comes far later than the deadline, so the bound below is generous, not a timing test.
    sandbox.inject({"kind": "delay", "seconds": 120, "method": "GET", "path": "/audiences$"})

    started = time.monotonic()
    result = sync(build_b, sandbox, "--deadline", "15")
    elapsed = time.monotonic() - started

    assert result.returncode == 6, result.stdout + result.stderr
    error = parse(result)["error"]
    assert "--deadline of 15 s" in error and "list audiences" in error
    assert "Traceback" not in result.stderr
    assert elapsed < 90, "the sync waited for the slow answer instead of its deadline"
    assert sandbox.audience_members(audience_id) == members_a


def test_deadline_bounds_the_upload(builds, sandbox):
    audience_id, members_a, build_b = synced_once(builds, sandbox)
    sandbox.inject(
        {"kind": "delay", "seconds": 120, "method": "PUT", "path": SESSION, "skip": 1, "times": 1}
    )

    started = time.monotonic()
    result = sync(build_b, sandbox, "--deadline", "15")
    assert time.monotonic() - started < 90, "the upload waited for the slow answer"

    assert result.returncode == 6, result.stdout + result.stderr
    error = parse(result)["error"]
    assert "--deadline of 15 s" in error and "upload a chunk" in error and "not changed" in error
    assert sandbox.audience_members(audience_id) == members_a


@pytest.mark.parametrize("target", ["loopback recorder", "plain http elsewhere"])
def test_the_token_request_never_follows_a_redirect(builds, sandbox, recorder, target):
    build, _ = builds["a"]
    location = (
        recorder.url + "/api/token?next=1"
        if target == "loopback recorder"
        else "http://attacker.invalid:8080/steal?next=1"
    )
    sandbox.inject({"kind": "redirect", "path": "^/api/token$", "location": location})

    result = sync(build, sandbox)

    assert result.returncode == 5, result.stdout + result.stderr
    error = parse(result)["error"]
    where = location.split("/api/token")[0].split("/steal")[0]
    assert "redirect" in error and where in error
    assert "next=1" not in error and "/steal" not in error
    assert recorder.received == []
    assert sandbox.list_audiences() == []
    assert sandbox.faults() == []


def test_an_api_call_with_a_bearer_token_never_follows_a_redirect(builds, sandbox, recorder):
    audience_id, members_a, build_b = synced_once(builds, sandbox)
    sandbox.inject(
        {
            "kind": "redirect",
            "status": 308,
            "method": "GET",
            "path": "/audiences$",
            "location": recorder.url + "/ads/v3/elsewhere",
        }
    )

    result = sync(build_b, sandbox)

    assert result.returncode == 5, result.stdout + result.stderr
    assert recorder.url in parse(result)["error"]
    assert recorder.received == []
    assert sandbox.audience_members(audience_id) == members_a


OUTAGES = {
    "503 from the token endpoint": {"kind": "status", "status": 503, "path": "^/api/token$"},
    "an HTML page from the token endpoint": {
        "kind": "raw",
        "path": "^/api/token$",
        "body": "<html><body>Proxy maintenance</body></html>",
    },
    "a 502 HTML page from the token endpoint": {
        "kind": "raw",
        "status": 502,
        "path": "^/api/token$",
        "body": "<html><body>Bad gateway</body></html>",
    },
}


@pytest.mark.parametrize("fault", list(OUTAGES.values()), ids=list(OUTAGES))
def test_a_token_endpoint_outage_is_not_an_authentication_failure(builds, sandbox, fault):
    build, _ = builds["a"]
    sandbox.inject({**fault, "times": None})

    result = sync(build, sandbox)

    assert result.returncode == 6, result.stdout + result.stderr
    error = parse(result)["error"]
    assert "spotify-audiences login" not in error and "again later" in error
    assert sum(1 for r in sandbox.requests() if r["path"] == "/api/token") > 1, "not retried"
    assert sandbox.list_audiences() == []


@pytest.mark.parametrize("fault", list(OUTAGES.values()), ids=list(OUTAGES))
def test_a_passing_token_endpoint_outage_is_retried(builds, sandbox, fault):
    build, want = builds["a"]
    sandbox.inject({**fault, "times": 2})

    result = sync(build, sandbox)

    assert result.returncode == 0, result.stdout + result.stderr
    assert sandbox.audience_members(only_audience(sandbox)["id"]) == want["members"]
    assert sandbox.faults() == []


def test_a_server_error_wait_ignores_the_rate_limit_reset(builds, sandbox):
    build, _ = builds["a"]
    sandbox.inject(
        {
            "kind": "status",
            "status": 503,
            "method": "GET",
            "path": "/audiences$",
            "headers": {"X-RateLimit-Reset": "600"},
        }
    )

    result = sync(build, sandbox)

    assert result.returncode == 0, result.stderr
    waits = [
        float(w) for w in re.findall(r"server error \(503\); waiting ([0-9.]+) s", result.stderr)
    ]
    assert len(waits) == 1, result.stderr
    assert waits[0] <= 2.0


def test_a_server_error_wait_honours_retry_after(builds, sandbox):
    build, _ = builds["a"]
    sandbox.inject(
        {"kind": "status", "status": 503, "method": "GET", "path": "/audiences$", "retry_after": 7}
    )
    result = sync(build, sandbox)
    assert result.returncode == 0, result.stderr
    assert "server error (503); waiting 7.0 s" in result.stderr


NOT_OBJECTS = {
    "token endpoint []": ("^/api/token$", "POST", "[]", 6),
    "name lookup []": ("/audiences$", "GET", "[]", 5),
    "name lookup string": ("/audiences$", "GET", '"x"', 5),
    "name lookup list of strings": ("/audiences$", "GET", '{"audiences": ["x"]}', 5),
    "name lookup paging string": ("/audiences$", "GET", '{"audiences": [], "paging": "x"}', 5),
    "upload url string": ("upload_url$", "POST", '"x"', 5),
    "create []": ("/audiences$", "POST", "[]", 5),
}


@pytest.mark.parametrize(
    ("path", "method", "body", "exit_code"), list(NOT_OBJECTS.values()), ids=list(NOT_OBJECTS)
)
def test_an_answer_of_the_wrong_json_shape_is_a_one_line_error(
    builds, sandbox, path, method, body, exit_code
):
    build, _ = builds["a"]
    sandbox.inject(
        {
            "kind": "raw",
            "path": path,
            "method": method,
            "body": body,
            "content_type": "application/json",
            "times": None,
        }
    )

    result = sync(build, sandbox)

    assert result.returncode == exit_code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    line = parse(result)
    assert line["action"] == "failed" and "\n" not in line["error"]
    assert sandbox.list_audiences() == []


def test_status_with_an_audience_of_the_wrong_shape_is_a_one_line_error(builds, sandbox):
    build, _ = builds["a"]
    first = sync(build, sandbox)
    assert first.returncode == 0, first.stderr
    sandbox.inject(
        {
            "kind": "raw",
            "method": "GET",
            "path": "/audiences/[0-9a-f-]+$",
            "body": '{"id": "x", "status": "BOOKABLE", "size": [1, 2]}',
            "content_type": "application/json",
        }
    )
    env = {**build.env(), **sandbox.env(), **FAST}
    result = run_cli("status", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "size" in result.stdout
