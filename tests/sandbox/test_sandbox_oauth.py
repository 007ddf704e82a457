"""Accounts: the authorization-code flow (with and without PKCE) and refresh-token lifecycle."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sandbox_helpers import TIMEOUT, Client, pkce_pair

from spotify_ads_sandbox import Sandbox

REDIRECT = "http://127.0.0.1:43117/callback"


def authorize(client: Client, path: str = "/authorize", **params: str):
    query = {
        "client_id": client.env["SPOTIFY_CLIENT_ID"],
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "st4te-xyz",
        **params,
    }
    query = {key: value for key, value in query.items() if value is not None}
    return client.http.get(
        client.env["SPOTIFY_ACCOUNTS_URL"] + path,
        params=query,
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def callback(response) -> tuple[str, dict[str, str]]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    params = {key: values[-1] for key, values in parse_qs(location.query).items()}
    return f"{location.scheme}://{location.netloc}{location.path}", params


def exchange(client: Client, code: str, auth="default", **extra: str):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **extra}
    return client.token_request(data, auth=auth)


def test_pkce_flow_for_a_public_client(sandbox: Sandbox) -> None:
    client = Client(sandbox)
    verifier, challenge = pkce_pair()
    target, params = callback(
        authorize(client, code_challenge=challenge, code_challenge_method="S256", scope="")
    )
    assert target == REDIRECT
    assert params["state"] == "st4te-xyz"
    public = {"client_id": client.env["SPOTIFY_CLIENT_ID"], "code_verifier": verifier}
    tokens = exchange(client, params["code"], auth=None, **public)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 3600, "")
    assert client.api("GET", client.audiences_path(), token=body["access_token"]).status_code == 200

    refreshed = client.token_request(
        {
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": client.env["SPOTIFY_CLIENT_ID"],
        },
        auth=None,
    )
    assert refreshed.status_code == 200, refreshed.text

    reused = exchange(client, params["code"], auth=None, **public)
    assert reused.status_code == 400
    assert reused.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid authorization code",
    }


def test_code_flow_for_a_confidential_client(sandbox: Sandbox) -> None:
    client = Client(sandbox)
    _, params = callback(authorize(client, path="/authorize/", show_dialog="true"))
    tokens = exchange(client, params["code"])
    assert tokens.status_code == 200, tokens.text
    assert client.refresh(tokens.json()["refresh_token"]).status_code == 200
    assert exchange(client, params["code"]).json()["error"] == "invalid_grant"


def test_public_client_cannot_redeem_a_code_without_pkce(sandbox: Sandbox) -> None:
    client = Client(sandbox)
    _, params = callback(authorize(client))
    response = exchange(
        client, params["code"], auth=None, client_id=client.env["SPOTIFY_CLIENT_ID"]
    )
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    # The configured refresh token came from a confidential client: no refresh without a secret.
    public_refresh = client.token_request(
        {
            "grant_type": "refresh_token",
            "refresh_token": client.env["SPOTIFY_REFRESH_TOKEN"],
            "client_id": client.env["SPOTIFY_CLIENT_ID"],
        },
        auth=None,
    )
    assert public_refresh.status_code == 401


def test_pkce_verifier_is_checked(sandbox: Sandbox) -> None:
    client = Client(sandbox)
    verifier, challenge = pkce_pair()
    _, params = callback(authorize(client, code_challenge=challenge, code_challenge_method="S256"))
    missing = exchange(client, params["code"])
    assert missing.json() == {
        "error": "invalid_request",
        "error_description": "code_verifier required",
    }

    _, params = callback(authorize(client, code_challenge=challenge, code_challenge_method="S256"))
    wrong = exchange(client, params["code"], code_verifier=pkce_pair()[0])
    assert wrong.json() == {
        "error": "invalid_grant",
        "error_description": "code_verifier was incorrect",
    }
    # A failed attempt burns the code.
    assert exchange(client, params["code"], code_verifier=verifier).status_code == 400


def test_code_is_bound_to_redirect_uri_and_expires(sandbox: Sandbox, clock) -> None:
    client = Client(sandbox)
    _, params = callback(authorize(client))
    other = client.token_request(
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": "http://127.0.0.1:9/callback",
        }
    )
    assert other.json() == {"error": "invalid_grant", "error_description": "Invalid redirect URI"}

    _, params = callback(authorize(client))
    clock.advance(601)
    assert exchange(client, params["code"]).json()["error"] == "invalid_grant"
    assert exchange(client, "AQ-unknown-code").json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://localhost:8080/callback",
        "http://127.0.0.1:8080/other",
        "http://example.com/callback",
        "https://example.com/callback",
        "http://127.0.0.1:8080/callback#frag",
        "not a uri",
    ],
)
def test_refused_redirect_uris_get_an_error_page(sandbox: Sandbox, redirect_uri: str) -> None:
    response = authorize(Client(sandbox), redirect_uri=redirect_uri)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "INVALID_CLIENT" in response.text


def test_localhost_is_refused_with_a_hint(sandbox: Sandbox) -> None:
    response = authorize(Client(sandbox), redirect_uri="http://localhost:8080/callback")
    assert "127.0.0.1" in response.text


def test_unknown_client_gets_an_error_page(sandbox: Sandbox) -> None:
    response = authorize(Client(sandbox), client_id="0" * 32)
    assert response.status_code == 400
    assert "Invalid client" in response.text


def test_loopback_accepts_any_port_and_https_needs_registration(make_sandbox) -> None:
    sandbox = make_sandbox(redirect_uris=("http://127.0.0.1/callback", "https://app.example/cb"))
    client = Client(sandbox)
    for uri in ("http://127.0.0.1:1/callback", "http://127.0.0.1:65000/callback"):
        assert callback(authorize(client, redirect_uri=uri))[0] == uri
    assert callback(authorize(client, redirect_uri="https://app.example/cb"))[0] == (
        "https://app.example/cb"
    )
    assert authorize(client, redirect_uri="https://app.example/other").status_code == 400


def test_authorize_errors_are_redirected_with_state(make_sandbox) -> None:
    client = Client(make_sandbox(authorize_outcome="deny"))
    assert callback(authorize(client))[1] == {"error": "access_denied", "state": "st4te-xyz"}
    assert callback(authorize(client, response_type="token"))[1]["error"] == (
        "unsupported_response_type"
    )
    _, challenge = pkce_pair()
    plain = authorize(client, code_challenge=challenge, code_challenge_method="plain")
    assert callback(plain)[1] == {"error": "invalid_request", "state": "st4te-xyz"}
    short = authorize(client, code_challenge="short", code_challenge_method="S256")
    assert callback(short)[1]["error"] == "invalid_request"


def test_refresh_token_rotation(make_sandbox) -> None:
    client = Client(make_sandbox(rotate_refresh_token=True))
    first = client.refresh()
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    assert rotated != client.env["SPOTIFY_REFRESH_TOKEN"]
    assert client.refresh().json() == {
        "error": "invalid_grant",
        "error_description": "Refresh token revoked",
    }
    assert client.refresh(rotated).status_code == 200


@pytest.mark.parametrize(
    ("status", "description"),
    [("expired", "Refresh token expired"), ("revoked", "Refresh token revoked")],
)
def test_configured_refresh_token_state(make_sandbox, status: str, description: str) -> None:
    client = Client(make_sandbox(refresh_token_status=status))
    response = client.refresh()
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": description}


def test_refresh_token_hooks_and_lifetime(sandbox: Sandbox, clock) -> None:
    client = Client(sandbox)
    sandbox.revoke_refresh_token()
    assert client.refresh().json()["error_description"] == "Refresh token revoked"
    sandbox.set_refresh_token_state(None, "valid")
    assert client.refresh().status_code == 200
    clock.advance(181 * 86400)
    assert client.refresh().json()["error_description"] == "Refresh token expired"
