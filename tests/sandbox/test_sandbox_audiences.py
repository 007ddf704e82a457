"""Audience endpoints: request validation, list filters, edit, delete, rate limits."""

from __future__ import annotations

import pytest
from sandbox_helpers import Client, emails, long_csv

from spotify_ads_sandbox import Sandbox
from spotify_ads_sandbox.config import DEFAULT_FORBIDDEN_AD_ACCOUNT_ID

OTHER_UUID = "3c0d7a3e-9f1b-4d2a-8c55-0e6b7f2d9a10"


@pytest.fixture
def small(make_sandbox) -> Client:
    """A client on a sandbox that accepts tiny lists, for tests about other things."""
    client = Client(make_sandbox(min_identifiers=1))
    client.login()
    return client


def make(client: Client, name: str, clock=None) -> str:
    audience_id = client.create_audience(long_csv(emails(3, name)), name)["id"]
    if clock is not None:
        clock.advance(10)
    return audience_id


def codes(response) -> list[str]:
    return [code["code"] for code in response.json()["error_codes"]]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"audience_type": "CUSTOM", "subtype": "CUSTOMER_LIST", "name": "x"}, "name must be"),
        ({"audience_type": "CUSTOM", "subtype": "CUSTOMER_LIST", "name": "n" * 81}, "name must be"),
        ({"subtype": "CUSTOMER_LIST", "name": "No type"}, "audience_type is required"),
        ({"audience_type": "PIXEL", "name": "Bad type"}, "audience_type must be"),
        ({"audience_type": "CUSTOM", "subtype": "CUSTOMER_LIST"}, "name is required"),
        (
            {"audience_type": "CUSTOM", "subtype": "CUSTOMER_LIST", "name": 12},
            "name must be a string",
        ),
        (
            {"audience_type": "CUSTOM", "name": "Long desc", "description": "d" * 81},
            "description must be",
        ),
        (
            {
                "audience_type": "CUSTOM",
                "subtype": "CUSTOMER_LIST",
                "name": "Id",
                "audience_id": "1",
            },
            "audience_id must be a UUID",
        ),
        ({"audience_type": "CUSTOM", "subtype": "NEWSLETTER", "name": "Sub"}, "subtype must be"),
        ({"audience_type": "CUSTOM", "name": "No subtype"}, "subtype is required"),
        (
            {"audience_type": "CUSTOM", "subtype": "CUSTOMER_LIST", "name": "No upload"},
            "audience_id (the id returned by the upload_url endpoint) is required",
        ),
        ({"audience_type": "CUSTOM", "subtype": "WEB_EVENT", "name": "Web"}, "customer lists only"),
        (
            {"audience_type": "LOOKALIKE", "name": "Look", "seed_audience_id": OTHER_UUID},
            "customer lists only",
        ),
        ({"audience_type": "LOOKALIKE", "name": "Look"}, "seed_audience_id is required"),
    ],
)
def test_create_validation(small: Client, body: dict, fragment: str) -> None:
    response = small.api("POST", small.audiences_path(), json=body)
    assert response.status_code == 400, response.text
    assert any(fragment in message for message in response.json()["messages"]), response.text


def test_create_reports_every_field_error_at_once(small: Client) -> None:
    response = small.api("POST", small.audiences_path(), json={"description": "d" * 90})
    assert response.status_code == 400
    assert len(response.json()["messages"]) == 3
    assert set(codes(response)) == {"VALIDATION.MISSING_FIELD", "VALIDATION.INVALID_FIELD"}


def test_create_needs_a_json_object(small: Client) -> None:
    for data in (b"not json", b"[1, 2]", b""):
        response = small.api(
            "POST",
            small.audiences_path(),
            data=data,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400
        assert codes(response) == ["VALIDATION.INVALID_BODY"]


def test_path_ids_and_ad_accounts(small: Client) -> None:
    assert small.api("GET", "/ad_accounts/123/audiences").status_code == 400
    assert small.api("GET", small.audiences_path("/not-a-uuid")).status_code == 400
    assert small.api("POST", "/ad_accounts/abc/audiences/upload_url").status_code == 400
    unknown = small.api("GET", small.audiences_path(account=OTHER_UUID))
    assert (unknown.status_code, codes(unknown)) == (404, ["NOT_FOUND.AD_ACCOUNT"])
    forbidden = small.api(
        "POST", small.audiences_path("/upload_url", DEFAULT_FORBIDDEN_AD_ACCOUNT_ID)
    )
    assert (forbidden.status_code, codes(forbidden)) == (
        403,
        ["PERMISSION.AD_ACCOUNT_ACCESS_DENIED"],
    )
    missing = small.api("GET", small.audiences_path(f"/{OTHER_UUID}"))
    assert (missing.status_code, codes(missing)) == (404, ["NOT_FOUND.AUDIENCE"])
    assert small.api("GET", "/businesses").status_code == 404
    assert small.api("PUT", small.audiences_path()).status_code == 405


def test_uploads_belong_to_their_ad_account(make_sandbox) -> None:
    sandbox = make_sandbox(min_identifiers=1, other_ad_account_ids=(OTHER_UUID,))
    client = Client(sandbox)
    client.login()
    upload_id = client.upload(long_csv(emails(2)))
    elsewhere = client.api(
        "POST",
        client.audiences_path(account=OTHER_UUID),
        json={
            "audience_type": "CUSTOM",
            "subtype": "CUSTOMER_LIST",
            "audience_id": upload_id,
            "name": "Elsewhere",
        },
    )
    assert elsewhere.status_code == 400
    assert client.create(upload_id, "Home").status_code == 201
    assert sandbox.list_audiences(OTHER_UUID) == []
    assert len(sandbox.list_audiences(client.account)) == 1
    assert client.api("GET", client.audiences_path(f"/{upload_id}", OTHER_UUID)).status_code == 404


def test_list_filters_paging_and_sorting(small: Client, clock) -> None:
    alpha = make(small, "Alpha fans", clock)
    beta = make(small, "beta Q4 buyers", clock)
    gamma = make(small, "Gamma Q4 lapsed", clock)

    def ids(**params) -> list[str]:
        response = small.api("GET", small.audiences_path(), params=params)
        assert response.status_code == 200, response.text
        return [audience["id"] for audience in response.json()["audiences"]]

    assert ids() == [gamma, beta, alpha]  # UPDATED_AT DESC by default
    assert ids(sort_direction="ASC") == [alpha, beta, gamma]
    assert ids(sort_field="NAME", sort_direction="ASC") == [alpha, beta, gamma]
    assert ids(sort_field="NAME") == [gamma, beta, alpha]
    assert ids(q="q4") == [gamma, beta]
    assert ids(q="ALPHA") == [alpha]
    assert ids(q="b*q4") == [beta]
    assert ids(q="*lapsed") == [gamma]
    assert ids(q="nothing") == []
    assert ids(audience_ids=[alpha, gamma]) == [gamma, alpha]
    assert ids(audience_types="CUSTOM") == [gamma, beta, alpha]
    assert ids(audience_types="LOOKALIKE") == []

    page = small.api("GET", small.audiences_path(), params={"limit": 2, "offset": 2}).json()
    assert page["paging"] == {"page_size": 2, "total_results": 3, "offset": 2, "current_page": 2}
    assert [a["id"] for a in page["audiences"]] == [alpha]
    beyond = small.api("GET", small.audiences_path(), params={"offset": 10}).json()
    assert beyond["audiences"] == [] and beyond["paging"]["total_results"] == 3


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 51},
        {"limit": "ten"},
        {"offset": -1},
        {"sort_direction": "UP"},
        {"sort_field": "CREATED_AT"},
        {"audience_ids": "123"},
        {"audience_types": "PIXEL"},
    ],
)
def test_list_rejects_bad_parameters(small: Client, params: dict) -> None:
    response = small.api("GET", small.audiences_path(), params=params)
    assert response.status_code == 400
    assert codes(response) == ["VALIDATION.INVALID_QUERY_PARAMETER"]


def test_edit_name_and_description(small: Client, clock) -> None:
    audience_id = make(small, "Before", clock)
    path = small.audiences_path(f"/{audience_id}")
    before = small.api("GET", path).json()
    edited = small.api(
        "PATCH", path, json={"audience_type": "CUSTOM", "name": "After", "description": "new"}
    )
    assert edited.status_code == 200
    body = edited.json()
    assert (body["name"], body["description"]) == ("After", "new")
    assert body["updated_at"] > before["updated_at"]
    assert body["created_at"] == before["created_at"]
    assert small.api("GET", path).json()["name"] == "After"

    assert small.api("PATCH", path, json={"name": "No type"}).status_code == 400
    assert (
        small.api("PATCH", path, json={"audience_type": "CUSTOM", "name": "x"}).status_code == 400
    )
    mismatch = small.api("PATCH", path, json={"audience_type": "LOOKALIKE", "name": "Other"})
    assert mismatch.status_code == 400
    gone = small.api(
        "PATCH", small.audiences_path(f"/{OTHER_UUID}"), json={"audience_type": "CUSTOM"}
    )
    assert gone.status_code == 404


def test_delete_and_live_conflict(small: Client) -> None:
    sandbox: Sandbox = small.sandbox
    keep = make(small, "Live one")
    drop = make(small, "Old one")
    deleted = small.api("DELETE", small.audiences_path(f"/{drop}"))
    assert (deleted.status_code, deleted.json()) == (200, {"deletion_count": 1})
    assert small.api("GET", small.audiences_path(f"/{drop}")).status_code == 404
    assert small.api("DELETE", small.audiences_path(f"/{drop}")).status_code == 404
    assert small.api("POST", small.audiences_path(f"/upload_url/{drop}")).status_code == 404

    sandbox.set_audience_live(keep)
    assert small.api("GET", small.audiences_path(f"/{keep}")).json()["status"] == "LIVE"
    conflict = small.api("DELETE", small.audiences_path(f"/{keep}"))
    assert (conflict.status_code, codes(conflict)) == (409, ["CONFLICT.AUDIENCE_IN_USE"])
    sandbox.set_audience_live(keep, live=False)
    assert small.api("DELETE", small.audiences_path(f"/{keep}")).status_code == 200
    assert sandbox.list_audiences() == []
    assert list(sandbox.store.files_dir.iterdir()) == []


def test_rate_limit_headers_and_429(make_sandbox, clock) -> None:
    client = Client(make_sandbox(rate_limit=3, rate_limit_window=30))
    client.login()
    remaining = []
    for _ in range(3):
        response = client.api("GET", client.audiences_path())
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Reset"] == "30"
        remaining.append(response.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]

    clock.advance(10)
    limited = client.api("POST", client.audiences_path("/upload_url"))
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "20"
    assert limited.headers["X-RateLimit-Reset"] == "20"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert codes(limited) == ["RATE_LIMIT.EXCEEDED"]
    assert client.sandbox.uploads() == []  # not processed

    clock.advance(20)
    again = client.api("GET", client.audiences_path())
    assert again.status_code == 200
    assert again.headers["X-RateLimit-Remaining"] == "2"


def test_rate_limit_headers_on_errors(client: Client) -> None:
    unauthenticated = client.api("GET", client.audiences_path(), token="BQ-nope")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["X-RateLimit-Limit"] == "1500"
    invalid = client.api("GET", client.audiences_path("/nope"))
    assert invalid.status_code == 400
    assert invalid.headers["X-RateLimit-Remaining"] == "1499"
