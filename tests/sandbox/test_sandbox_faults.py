"""Injected faults: one test per kind, plus rule matching and the HTTP control endpoints."""

from __future__ import annotations

import time

import pytest
import requests
from sandbox_helpers import KIB256, TIMEOUT, Client, emails, long_csv

from spotify_ads_sandbox import Sandbox


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_status_fault_answers_without_processing(client: Client, sandbox: Sandbox) -> None:
    upload_id = client.upload(long_csv(emails(1000)))
    sandbox.inject(
        {
            "kind": "status",
            "status": 503,
            "method": "POST",
            "path": r"/audiences$",
            "retry_after": 2,
        }
    )
    failed = client.create(upload_id, "Later")
    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "2"
    assert failed.json()["error_codes"][0]["code"] == "SERVER.SERVICE_UNAVAILABLE"
    assert "X-RateLimit-Limit" in failed.headers
    assert sandbox.list_audiences() == []
    assert client.create(upload_id, "Later").status_code == 201
    assert sandbox.requests()[-2]["fault"] == "status"


def test_status_fault_on_the_upload_host_is_xml(client: Client) -> None:
    target = client.upload_url()
    client.sandbox.inject({"kind": "status", "status": 500, "path": "^/gcs/"})
    failed = client.start_session(target["upload_url"])
    assert failed.status_code == 500
    assert "<Code>InternalError</Code>" in failed.text
    assert client.start_session(target["upload_url"]).status_code == 201


def test_status_fault_on_the_token_endpoint(client: Client) -> None:
    client.sandbox.inject({"kind": "status", "status": 502, "path": "^/api/token$"})
    failed = client.refresh()
    assert failed.status_code == 502
    assert failed.json()["error"] == "server_error"


def test_rate_limit_fault(client: Client, sandbox: Sandbox) -> None:
    sandbox.inject({"kind": "rate_limit", "retry_after": 7, "method": "POST"})
    limited = client.api("POST", client.audiences_path("/upload_url"))
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.headers["X-RateLimit-Reset"] == "7"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.json()["error_codes"][0]["code"] == "RATE_LIMIT.EXCEEDED"
    assert sandbox.uploads() == []
    assert client.api("POST", client.audiences_path("/upload_url")).status_code == 200


def test_unauthorized_fault_invalidates_access_tokens(client: Client, sandbox: Sandbox) -> None:
    old = client.token
    sandbox.inject({"kind": "unauthorized", "path": "/audiences"})
    assert client.api("GET", client.audiences_path()).status_code == 401
    assert client.api("GET", client.audiences_path(), token=old).status_code == 401
    client.login()
    assert client.token != old
    assert client.api("GET", client.audiences_path()).status_code == 200


def test_invalid_grant_fault(client: Client, sandbox: Sandbox) -> None:
    sandbox.inject({"kind": "invalid_grant", "reason": "revoked"})
    # An Ads API call does not consume a token-endpoint fault.
    assert client.api("GET", client.audiences_path()).status_code == 200
    failed = client.refresh()
    assert failed.json() == {"error": "invalid_grant", "error_description": "Refresh token revoked"}
    assert client.refresh().status_code == 200

    sandbox.inject({"kind": "invalid_grant", "persist": True})
    assert client.refresh().json()["error_description"] == "Refresh token expired"
    assert client.refresh().json()["error_description"] == "Refresh token expired"


def test_delay_fault_times_out_the_client_but_still_processes(
    client: Client, sandbox: Sandbox
) -> None:
    sandbox.inject({"kind": "delay", "seconds": 0.4, "path": "upload_url$"})
    url = client.env["SPOTIFY_ADS_API_URL"] + client.audiences_path("/upload_url")
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(url, headers={"Authorization": f"Bearer {client.token}"}, timeout=0.1)
    wait_for(lambda: len(sandbox.uploads()) == 1)


def test_commit_then_drop_commits_the_create(client: Client, sandbox: Sandbox) -> None:
    upload_id = client.upload(long_csv(emails(1000)))
    sandbox.inject({"kind": "commit_then_drop", "method": "POST", "path": r"/audiences$"})
    with pytest.raises(requests.exceptions.ConnectionError):
        client.create(upload_id, "Ambiguous")
    [audience] = sandbox.list_audiences()
    assert audience["id"] == upload_id
    found = client.api("GET", client.audiences_path(), params={"q": "Ambiguous"}).json()
    assert [a["id"] for a in found["audiences"]] == [upload_id]
    assert sandbox.requests()[-2]["status"] is None


def test_commit_then_drop_on_the_last_upload_request(client: Client, sandbox: Sandbox) -> None:
    data = long_csv(emails(1000))
    target = client.upload_url()
    session = client.session(target["upload_url"])
    sandbox.inject({"kind": "commit_then_drop", "method": "PUT"})
    with pytest.raises(requests.exceptions.ConnectionError):
        client.put(session, data)
    assert client.put(session, b"", f"bytes */{len(data)}").status_code == 200
    assert client.create(target["id"], "Landed").status_code == 201
    assert sandbox.audience_file(target["id"]) == data


def test_drop_after_bytes_keeps_what_arrived(client: Client, sandbox: Sandbox) -> None:
    pairs = emails(5000)
    data = long_csv(pairs)
    target = client.upload_url()
    session = client.session(target["upload_url"])
    sandbox.inject({"kind": "drop_after_bytes", "bytes": 100_000})
    with pytest.raises(requests.exceptions.ConnectionError):
        client.put(session, data)
    status = client.put(session, b"", f"bytes */{len(data)}")
    assert (status.status_code, status.headers["Range"]) == (308, "bytes=0-99999")
    final = client.put(session, data[100_000:], f"bytes 100000-{len(data) - 1}/{len(data)}")
    assert final.status_code == 200
    assert client.create(target["id"], "Resumed").status_code == 201
    assert sandbox.audience_file(target["id"]) == data
    [upload] = sandbox.uploads()
    assert upload["bytes_received"] == len(data)


def test_session_gone_fault(client: Client, sandbox: Sandbox) -> None:
    data = long_csv(emails(1000))
    target = client.upload_url()
    session = client.session(target["upload_url"])
    sandbox.inject({"kind": "session_gone"})
    assert client.put(session, data).status_code == 404
    assert client.put(session, data).status_code == 404
    fresh = client.session(target["upload_url"])
    assert client.put(fresh, data).status_code == 200
    assert client.create(target["id"], "Restarted").status_code == 201


def test_times_skip_and_filters(client: Client, sandbox: Sandbox) -> None:
    sandbox.inject(
        [
            {"kind": "status", "status": 500, "method": "GET", "times": 2, "skip": 1},
            {"kind": "status", "status": 502, "method": "GET"},
        ]
    )
    statuses = [client.api("GET", client.audiences_path()).status_code for _ in range(5)]
    assert statuses == [200, 500, 500, 502, 200]
    sandbox.inject({"kind": "status", "status": 500, "times": None, "path": "nothing-matches"})
    assert len(sandbox.faults()) == 1
    sandbox.clear_faults()
    assert sandbox.faults() == []


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "explode"},
        {"kind": "status"},
        {"kind": "status", "status": 200},
        {"kind": "delay", "seconds": -1},
        {"kind": "drop_after_bytes"},
        {"kind": "status", "status": 500, "times": 0},
        {"kind": "status", "status": 500, "path": "("},
        {"kind": "status", "status": 500, "colour": "red"},
        {"kind": "invalid_grant", "reason": "bored"},
        "status",
    ],
)
def test_invalid_fault_rules_are_refused(sandbox: Sandbox, fault) -> None:
    with pytest.raises(ValueError):
        sandbox.inject(fault)
    response = requests.post(sandbox.url + "/_sandbox/faults", json=fault, timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.json()["error"]


def test_control_endpoints(client: Client, sandbox: Sandbox) -> None:
    base = sandbox.url + "/_sandbox"
    data = long_csv(emails(1000))
    audience_id = client.create_audience(data, "Controlled")["id"]

    state = requests.get(base + "/state", timeout=TIMEOUT).json()
    [audience] = state["audiences"]
    assert audience["id"] == audience_id
    assert audience["name"] == "Controlled"
    assert audience["status"] == "BOOKABLE"
    assert audience["identifier_counts"]["EMAIL_ID_SHA256"] == 1000
    assert audience["file_bytes"] == len(data)
    assert len(audience["file_sha256"]) == 64
    assert state["uploads"][0]["completed"] is True
    file = requests.get(f"{base}/audiences/{audience_id}/file", timeout=TIMEOUT)
    assert file.content == data
    assert requests.get(f"{base}/audiences/nope/file", timeout=TIMEOUT).status_code == 404

    live = requests.post(f"{base}/audiences/{audience_id}/live", json={"live": True}, timeout=5)
    assert live.status_code == 200
    assert client.api("DELETE", client.audiences_path(f"/{audience_id}")).status_code == 409

    added = requests.post(
        base + "/faults",
        json=[{"kind": "status", "status": 500}, {"kind": "rate_limit"}],
        timeout=TIMEOUT,
    )
    assert [f["kind"] for f in added.json()["faults"]] == ["status", "rate_limit"]
    # Control endpoints never trigger faults.
    assert len(requests.get(base + "/faults", timeout=TIMEOUT).json()["faults"]) == 2
    assert requests.delete(base + "/faults", timeout=TIMEOUT).json() == {"faults": []}

    tokens = requests.post(base + "/refresh_tokens", json={"state": "revoked"}, timeout=TIMEOUT)
    assert tokens.json()["changed"] >= 1
    assert client.refresh().json()["error_description"] == "Refresh token revoked"

    log = requests.get(base + "/requests", timeout=TIMEOUT).json()["requests"]
    assert all(not entry["path"].startswith("/_sandbox") for entry in log)

    assert requests.post(base + "/reset", timeout=TIMEOUT).json() == {"reset": True}
    state = requests.get(base + "/state", timeout=TIMEOUT).json()
    assert state["audiences"] == [] and state["uploads"] == []
    assert sandbox.requests() == []
    assert client.api("GET", client.audiences_path()).status_code == 200  # old token still works
    assert client.refresh().status_code == 200  # the configured refresh token is valid again
    assert [entry["path"] for entry in sandbox.requests()][-1] == "/api/token"


def test_no_progress_fault_answers_308_with_the_old_range(client: Client, sandbox: Sandbox) -> None:
    data = long_csv(emails(20_000))
    assert len(data) > 3 * KIB256
    target = client.upload_url()
    session = client.session(target["upload_url"])
    first = client.put(session, data[:KIB256], f"bytes 0-{KIB256 - 1}/{len(data)}")
    assert (first.status_code, first.headers["Range"]) == (308, f"bytes=0-{KIB256 - 1}")
    sandbox.inject({"kind": "no_progress", "times": 2})
    chunk = f"bytes {KIB256}-{2 * KIB256 - 1}/{len(data)}"
    for _ in range(2):
        stalled = client.put(session, data[KIB256 : 2 * KIB256], chunk)
        assert (stalled.status_code, stalled.headers["Range"]) == (308, f"bytes=0-{KIB256 - 1}")
    rest = client.put(session, data[KIB256:], f"bytes {KIB256}-{len(data) - 1}/{len(data)}")
    assert rest.status_code == 200
    assert client.create(target["id"], "Stalled then done").status_code == 201
    assert sandbox.audience_file(target["id"]) == data
    assert [r["fault"] for r in sandbox.requests()].count("no_progress") == 2


def test_no_progress_fault_on_a_fresh_session_sends_no_range(client: Client, sandbox: Sandbox):
    data = long_csv(emails(1000))
    session = client.session(client.upload_url()["upload_url"])
    sandbox.inject({"kind": "no_progress"})
    stalled = client.put(session, data)
    assert stalled.status_code == 308 and "Range" not in stalled.headers
    # Only session PUTs match: an Ads API call does not consume the rule.
    sandbox.inject({"kind": "no_progress"})
    assert client.api("GET", client.audiences_path()).status_code == 200
    assert client.put(session, data).status_code == 308


def test_redirect_fault(client: Client, sandbox: Sandbox) -> None:
    sandbox.inject(
        {"kind": "redirect", "path": "^/api/token$", "location": "http://elsewhere.invalid/x"}
    )
    answer = requests.post(
        client.env["SPOTIFY_ACCOUNTS_URL"] + "/api/token",
        data={"grant_type": "refresh_token", "refresh_token": client.env["SPOTIFY_REFRESH_TOKEN"]},
        auth=(client.env["SPOTIFY_CLIENT_ID"], client.env["SPOTIFY_CLIENT_SECRET"]),
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert (answer.status_code, answer.headers["Location"]) == (307, "http://elsewhere.invalid/x")
    assert sandbox.requests()[-1]["fault"] == "redirect"
    assert client.refresh().status_code == 200


def test_redirect_fault_does_not_process(client: Client, sandbox: Sandbox) -> None:
    sandbox.inject(
        {"kind": "redirect", "status": 308, "location": "https://a.invalid/", "times": 1}
    )
    url = client.env["SPOTIFY_ADS_API_URL"] + client.audiences_path("/upload_url")
    moved = requests.post(
        url,
        headers={"Authorization": f"Bearer {client.token}"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert (moved.status_code, moved.headers["Location"]) == (308, "https://a.invalid/")
    assert sandbox.uploads() == []


@pytest.mark.parametrize(
    ("fault", "status", "content_type", "text"),
    [
        ({"body": "<html>Bad gateway</html>"}, 200, "text/html", "<html>Bad gateway</html>"),
        (
            {"body": "[]", "status": 200, "content_type": "application/json"},
            200,
            "application/json",
            "[]",
        ),
        ({"body": '"x"', "status": 502, "content_type": "application/json"}, 502, "json", '"x"'),
    ],
)
def test_raw_fault(client: Client, sandbox: Sandbox, fault, status, content_type, text) -> None:
    sandbox.inject({"kind": "raw", "path": "/audiences$", **fault})
    answer = client.api("GET", client.audiences_path())
    assert answer.status_code == status
    assert content_type in answer.headers["Content-Type"]
    assert answer.text == text
    assert client.api("GET", client.audiences_path()).json()["audiences"] == []


def test_status_fault_headers_replace_the_sandbox_ones(client: Client, sandbox: Sandbox) -> None:
    sandbox.inject(
        {
            "kind": "status",
            "status": 503,
            "path": "/audiences$",
            "headers": {"x-ratelimit-reset": "600"},
        }
    )
    failed = client.api("GET", client.audiences_path())
    assert failed.status_code == 503
    assert failed.headers["X-RateLimit-Reset"] == "600"
    assert [k for k in failed.headers if k.lower() == "x-ratelimit-reset"] == ["x-ratelimit-reset"]
    assert "X-RateLimit-Limit" in failed.headers


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "redirect"},
        {"kind": "redirect", "location": "https://a.invalid/", "status": 200},
        {"kind": "redirect", "location": "https://a.invalid/\r\nX-Evil: 1"},
        {"kind": "raw"},
        {"kind": "raw", "body": "x", "status": 99},
        {"kind": "raw", "body": 5},
        {"kind": "status", "status": 503, "headers": ["X-RateLimit-Reset"]},
        {"kind": "status", "status": 503, "headers": {"Bad Name": "1"}},
        {"kind": "status", "status": 503, "headers": {"X-Ok": "1\r\nX-Evil: 2"}},
        {"kind": "no_progress", "bytes": 5},
    ],
)
def test_invalid_new_fault_rules_are_refused(sandbox: Sandbox, fault) -> None:
    with pytest.raises(ValueError):
        sandbox.inject(fault)
