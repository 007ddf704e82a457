"""The main path: refresh a token, upload a list, create the audience, read it back."""

from __future__ import annotations

import hashlib
import re
import uuid

from sandbox_helpers import Client, emails, long_csv

from spotify_ads_sandbox import DEFAULT_AD_ACCOUNT_ID, Sandbox

TRACE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def assert_spotify_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert TRACE_ID.fullmatch(body["sp_trace_id"])
    assert body["messages"] and all(isinstance(m, str) for m in body["messages"])
    for code in body["error_codes"]:
        assert re.fullmatch(r"[A-Z_]+(\.[A-Z_]+)+", code["code"]), code
        assert code["definition"]
    return body


def test_env_points_at_the_sandbox(sandbox: Sandbox) -> None:
    env = sandbox.env()
    assert sandbox.url.startswith("http://127.0.0.1:")
    assert env["SPOTIFY_ADS_API_URL"] == sandbox.url + "/ads/v3"
    assert env["SPOTIFY_ACCOUNTS_URL"] == sandbox.url
    assert env["SPOTIFY_AD_ACCOUNT_ID"] == DEFAULT_AD_ACCOUNT_ID
    assert uuid.UUID(env["SPOTIFY_AD_ACCOUNT_ID"])
    assert {"SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_REFRESH_TOKEN"} <= set(env)


def test_refresh_returns_a_bearer_token_without_a_new_refresh_token(sandbox: Sandbox) -> None:
    response = Client(sandbox).refresh()
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == ""
    assert "refresh_token" not in body
    assert body["access_token"]


def test_refresh_rejects_bad_client_credentials(sandbox: Sandbox) -> None:
    client = Client(sandbox)
    data = {"grant_type": "refresh_token", "refresh_token": client.env["SPOTIFY_REFRESH_TOKEN"]}
    wrong_secret = client.token_request(data, auth=(client.env["SPOTIFY_CLIENT_ID"], "nope"))
    assert wrong_secret.status_code == 401
    assert wrong_secret.json() == {
        "error": "invalid_client",
        "error_description": "Invalid client secret",
    }
    wrong_client = client.token_request(data, auth=("someone-else", "x"))
    assert wrong_client.status_code == 401
    assert wrong_client.json()["error"] == "invalid_client"
    no_auth = client.token_request(data, auth=None)
    assert no_auth.status_code == 401
    assert no_auth.json()["error"] == "invalid_client"
    garbled = client.http.post(
        client.env["SPOTIFY_ACCOUNTS_URL"] + "/api/token",
        data=data,
        headers={"Authorization": "Basic !!!not-base64"},
    )
    assert garbled.status_code == 401


def test_token_endpoint_request_errors(sandbox: Sandbox) -> None:
    client = Client(sandbox)
    assert client.token_request({}).json() == {
        "error": "unsupported_grant_type",
        "error_description": "grant_type parameter is missing",
    }
    unsupported = client.token_request({"grant_type": "client_credentials"})
    assert unsupported.status_code == 400
    assert unsupported.json()["error"] == "unsupported_grant_type"
    unknown = client.refresh("AQ-not-a-real-token")
    assert unknown.status_code == 400
    assert unknown.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid refresh token",
    }
    as_json = client.http.post(
        client.env["SPOTIFY_ACCOUNTS_URL"] + "/api/token",
        json={"grant_type": "refresh_token"},
        auth=(client.env["SPOTIFY_CLIENT_ID"], client.env["SPOTIFY_CLIENT_SECRET"]),
    )
    assert as_json.status_code == 400
    assert as_json.json()["error"] == "invalid_request"


def test_client_secret_in_the_body_is_accepted(sandbox: Sandbox) -> None:
    client = Client(sandbox)
    response = client.token_request(
        {
            "grant_type": "refresh_token",
            "refresh_token": client.env["SPOTIFY_REFRESH_TOKEN"],
            "client_id": client.env["SPOTIFY_CLIENT_ID"],
            "client_secret": client.env["SPOTIFY_CLIENT_SECRET"],
        },
        auth=None,
    )
    assert response.status_code == 200


def test_ads_api_needs_a_valid_bearer_token(sandbox: Sandbox) -> None:
    client = Client(sandbox)
    missing = client.api("GET", client.audiences_path())
    body = assert_spotify_error(missing, 401)
    assert body["messages"] == ["No token provided"]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    bad = client.api("GET", client.audiences_path(), token="BQ-made-up")
    assert assert_spotify_error(bad, 401)["messages"] == ["Invalid access token"]
    basic = client.api(
        "GET", client.audiences_path(), headers={"Authorization": "Basic dXNlcjpwYXNz"}
    )
    assert_spotify_error(basic, 401)


def test_access_token_expires_after_its_ttl(make_sandbox, clock) -> None:
    client = Client(make_sandbox(access_token_ttl=60))
    assert client.refresh().json()["expires_in"] == 60
    client.login()
    assert client.api("GET", client.audiences_path()).status_code == 200
    clock.advance(61)
    expired = client.api("GET", client.audiences_path())
    assert assert_spotify_error(expired, 401)["messages"] == ["The access token expired"]
    client.login()
    assert client.api("GET", client.audiences_path()).status_code == 200


def test_upload_create_get_and_list(client: Client, sandbox: Sandbox) -> None:
    pairs = emails(600) + [("PHONE_NUMBER_SHA256", value) for _, value in emails(500, "phone")]
    data = long_csv(pairs)

    target = client.upload_url()
    assert uuid.UUID(target["id"])
    assert target["upload_url"].startswith(sandbox.url + "/gcs/")
    assert "X-Goog-Signature=" in target["upload_url"]

    start = client.start_session(target["upload_url"])
    assert start.status_code == 201
    session_uri = start.headers["Location"]
    assert session_uri.startswith(sandbox.url + "/gcs/upload/resumable?upload_id=")
    put = client.put(session_uri, data)
    assert put.status_code == 200
    assert put.json()["size"] == str(len(data))

    created = client.create(target["id"], "Q4 CRM", description="loyal buyers")
    assert created.status_code == 201, created.text
    audience = created.json()
    assert audience["id"] == target["id"]
    assert audience["name"] == "Q4 CRM"
    assert audience["description"] == "loyal buyers"
    assert audience["type"] == "CUSTOM"
    assert audience["subtype"] == "CUSTOMER_LIST"
    assert audience["status"] == "PROCESSING"
    assert audience["size"] == {"min": 0, "max": 0}
    assert audience["sources"] == ["CUSTOMER_LIST"]
    assert TIMESTAMP.fullmatch(audience["created_at"])
    assert TIMESTAMP.fullmatch(audience["updated_at"])

    fetched = client.api("GET", client.audiences_path(f"/{target['id']}"))
    assert fetched.status_code == 200
    body = fetched.json()
    assert body["status"] == "BOOKABLE"
    assert 0 < body["size"]["min"] < body["size"]["max"] <= 1100

    listed = client.api("GET", client.audiences_path()).json()
    assert listed["paging"] == {
        "page_size": 50,
        "total_results": 1,
        "offset": 0,
        "current_page": 1,
    }
    assert [a["id"] for a in listed["audiences"]] == [target["id"]]

    assert sandbox.audience_members(target["id"]) == set(pairs)
    assert sandbox.audience_file(target["id"]) == data
    [snapshot] = sandbox.list_audiences()
    assert snapshot["id"] == target["id"]
    [upload] = sandbox.uploads()
    assert upload["id"] == target["id"]
    assert upload["mode"] == "new"
    assert upload["audience_id"] == target["id"]
    assert upload["completed"] is True
    assert upload["validation_error"] is None
    assert upload["bytes_received"] == upload["size"] == len(data)
    assert upload["sha256"] == hashlib.sha256(data).hexdigest()
    assert upload["identifier_counts"] == {
        "EMAIL_ID_SHA256": 600,
        "PHONE_NUMBER_SHA256": 500,
        "DEVICE_ID_SHA256": 0,
    }


def test_request_log_has_paths_without_queries(client: Client, sandbox: Sandbox) -> None:
    client.upload(long_csv(emails(1000)))
    log = sandbox.requests()
    assert [(entry["method"], entry["status"]) for entry in log] == [
        ("POST", 200),  # token
        ("POST", 200),  # upload_url
        ("POST", 201),  # resumable start
        ("PUT", 200),
    ]
    assert all("?" not in entry["path"] for entry in log)
    assert log[2]["path"].startswith("/gcs/")


def test_keep_alive_connections_are_reused(client: Client) -> None:
    first = client.api("GET", client.audiences_path())
    second = client.api("GET", client.audiences_path())
    assert first.raw.version == 11
    assert first.headers.get("Connection", "").lower() != "close"
    assert second.status_code == 200
    assert len(client.http.adapters["http://"].poolmanager.pools) == 1
