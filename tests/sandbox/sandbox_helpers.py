"""Helpers for the sandbox tests: list files, a fake clock and a tiny raw HTTP client."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

import requests

from spotify_ads_sandbox import Sandbox

TIMEOUT = 10
KIB256 = 256 * 1024


def hashes(count: int, salt: str = "a") -> list[str]:
    """``count`` distinct SHA-256 hex digests."""
    return [hashlib.sha256(f"{salt}-{i}".encode()).hexdigest() for i in range(count)]


def long_csv(pairs: list[tuple[str, str]], header: str = "type,value") -> bytes:
    """A list file in the long layout."""
    lines = [header, *(f"{kind},{value}" for kind, value in pairs)]
    return ("\n".join(lines) + "\n").encode()


def emails(count: int, salt: str = "a") -> list[tuple[str, str]]:
    """``count`` EMAIL_ID_SHA256 pairs."""
    return [("EMAIL_ID_SHA256", value) for value in hashes(count, salt)]


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class FakeClock:
    """A clock the tests move by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Client:
    """Drives the sandbox the way a client would, with plain requests calls."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.env = sandbox.env()
        self.http = requests.Session()
        self.token: str | None = None
        self.account = self.env["SPOTIFY_AD_ACCOUNT_ID"]

    # --- Accounts ---
    def token_request(self, data: dict[str, str], auth: Any = "default") -> requests.Response:
        if auth == "default":
            auth = (self.env["SPOTIFY_CLIENT_ID"], self.env["SPOTIFY_CLIENT_SECRET"])
        return self.http.post(
            self.env["SPOTIFY_ACCOUNTS_URL"] + "/api/token", data=data, auth=auth, timeout=TIMEOUT
        )

    def refresh(self, refresh_token: str | None = None) -> requests.Response:
        token = refresh_token or self.env["SPOTIFY_REFRESH_TOKEN"]
        return self.token_request({"grant_type": "refresh_token", "refresh_token": token})

    def login(self) -> str:
        response = self.refresh()
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]
        return self.token

    # --- Ads API ---
    def api(self, method: str, path: str, token: str | None = None, **kwargs: Any):
        headers = kwargs.pop("headers", {})
        bearer = token or self.token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        url = self.env["SPOTIFY_ADS_API_URL"] + path
        return self.http.request(method, url, headers=headers, timeout=TIMEOUT, **kwargs)

    def audiences_path(self, suffix: str = "", account: str | None = None) -> str:
        return f"/ad_accounts/{account or self.account}/audiences{suffix}"

    def upload_url(self, audience_id: str | None = None) -> dict[str, str]:
        suffix = "/upload_url" + (f"/{audience_id}" if audience_id else "")
        response = self.api("POST", self.audiences_path(suffix))
        assert response.status_code == 200, response.text
        return response.json()

    # --- GCS ---
    def start_session(self, upload_url: str, **headers: str) -> requests.Response:
        sent = {"x-goog-resumable": "start", "Content-Type": "text/csv", **headers}
        sent = {k: v for k, v in sent.items() if v is not None}
        return self.http.post(upload_url, headers=sent, timeout=TIMEOUT)

    def session(self, upload_url: str) -> str:
        response = self.start_session(upload_url)
        assert response.status_code == 201, response.text
        return response.headers["Location"]

    def put(
        self, session_uri: str, data: bytes, content_range: str | None = None
    ) -> requests.Response:
        headers = {"Content-Range": content_range} if content_range else {}
        return self.http.put(session_uri, data=data, headers=headers, timeout=TIMEOUT)

    def upload(self, data: bytes, audience_id: str | None = None) -> str:
        """Get an upload URL, upload ``data`` in one PUT and return the upload id."""
        target = self.upload_url(audience_id)
        response = self.put(self.session(target["upload_url"]), data)
        assert response.status_code == 200, response.text
        return target["id"]

    def create(self, upload_id: str, name: str, **extra: Any) -> requests.Response:
        body = {
            "audience_type": "CUSTOM",
            "subtype": "CUSTOMER_LIST",
            "audience_id": upload_id,
            "name": name,
            **extra,
        }
        return self.api("POST", self.audiences_path(), json=body)

    def create_audience(self, data: bytes, name: str) -> dict[str, Any]:
        response = self.create(self.upload(data), name)
        assert response.status_code == 201, response.text
        return response.json()
