"""The Spotify Ads API v3 audience endpoints this product uses."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from spotify_audiences.config import ENV_AD_ACCOUNT_ID, check_endpoint
from spotify_audiences.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    SpotifyApiError,
)
from spotify_audiences.transport import Retry, Transport, safe_path

log = logging.getLogger(__name__)

PAGE_SIZE = 50
API_TERMS_URL = "https://adsmanager.spotify.com/api-terms"


class TokenProvider(Protocol):
    """Anything that hands out bearer tokens: :class:`~spotify_audiences.auth.AccessTokens`
    (our own refresh), or Snowflake's OAuth secret inside a procedure."""

    def token(self) -> str:
        """A currently valid access token."""
        ...

    def invalidate(self) -> None:
        """Spotify refused the last token (401): get a new one next time."""
        ...


@dataclass(frozen=True)
class UploadTarget:
    """Where to upload a list file: the upload id and its signed storage URL."""

    id: str
    upload_url: str

    def __repr__(self) -> str:  # the URL is a bearer credential: never show it
        return f"UploadTarget(id={self.id!r}, upload_url='<signed>')"


class AdsClient:
    """A small client for the audience endpoints, authenticated by a :class:`TokenProvider`."""

    def __init__(self, transport: Transport, tokens: TokenProvider, *, base_url: str) -> None:
        self._transport = transport
        self._tokens = tokens
        self._base = base_url.rstrip("/")

    def create_upload_url(self, ad_account_id: str) -> UploadTarget:
        """``POST /ad_accounts/{id}/audiences/upload_url``: a URL for a new list."""
        # A spare upload URL is harmless, so this POST may be repeated like a read.
        body = self._call(
            "POST",
            f"/ad_accounts/{ad_account_id}/audiences/upload_url",
            retry=Retry.READ,
            what="request an upload URL",
        )
        return _upload_target(body)

    def replace_upload_url(self, ad_account_id: str, audience_id: str) -> UploadTarget:
        """``POST /ad_accounts/{id}/audiences/upload_url/{audience_id}``: replace a list."""
        body = self._call(
            "POST",
            f"/ad_accounts/{ad_account_id}/audiences/upload_url/{audience_id}",
            retry=Retry.READ,
            what="request a replacement upload URL",
        )
        return _upload_target(body)

    def create_audience(
        self, ad_account_id: str, *, name: str, upload_id: str, description: str | None = None
    ) -> dict[str, Any]:
        """``POST /ad_accounts/{id}/audiences``: a CUSTOMER_LIST audience from an upload."""
        payload: dict[str, Any] = {
            "audience_type": "CUSTOM",
            "subtype": "CUSTOMER_LIST",
            "name": name,
            "audience_id": upload_id,
        }
        if description:
            payload["description"] = description
        body = self._call(
            "POST",
            f"/ad_accounts/{ad_account_id}/audiences",
            json=payload,
            retry=Retry.WRITE,
            what="create audience",
        )
        return _audience(body, "create audience")

    def get_audience(self, ad_account_id: str, audience_id: str) -> dict[str, Any]:
        """``GET /ad_accounts/{id}/audiences/{audience_id}``."""
        body = self._call(
            "GET",
            f"/ad_accounts/{ad_account_id}/audiences/{audience_id}",
            retry=Retry.READ,
            what="get audience",
        )
        return _audience(body, "get audience")

    def iter_audiences(self, ad_account_id: str, *, q: str | None = None) -> Iterator[dict]:
        """``GET /ad_accounts/{id}/audiences``, every page, sorted by name."""
        offset = 0
        while True:
            params: dict[str, Any] = {
                "limit": PAGE_SIZE,
                "offset": offset,
                "sort_field": "NAME",
                "sort_direction": "ASC",
            }
            if q:
                params["q"] = q
            body = self._call(
                "GET",
                f"/ad_accounts/{ad_account_id}/audiences",
                params=params,
                retry=Retry.READ,
                what="list audiences",
            )
            page = body.get("audiences") or []
            paging = body.get("paging") or {}
            if not isinstance(page, list) or not isinstance(paging, dict):
                raise _shape_error("list audiences", "'audiences' is not a list of audiences")
            for item in page:
                yield _audience(item, "list audiences", needs_id=True)
            total = paging.get("total_results")
            offset += len(page)
            if not page or (isinstance(total, int) and offset >= total):
                return

    def find_audiences_named(self, ad_account_id: str, name: str) -> list[dict[str, Any]]:
        """Audiences whose name is exactly ``name`` (the API's ``q`` is a wildcard match)."""
        return [a for a in self.iter_audiences(ad_account_id, q=name) if a.get("name") == name]

    def _call(
        self, method: str, path: str, *, retry: Retry, what: str, **kwargs: Any
    ) -> dict[str, Any]:
        url = self._base + path
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._tokens.token()}"}
            response = self._transport.request(
                method, url, headers=headers, retry=retry, what=what, **kwargs
            )
            if response.status_code == 401 and attempt == 1:
                log.info("%s: access token refused (401); refreshing it once", what)
                self._tokens.invalidate()
                continue
            break
        if response.status_code >= 400:
            raise api_error(response, method=method, path=path, what=what)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise SpotifyApiError(
                f"{what}: Spotify answered HTTP {response.status_code} without a JSON object.",
                status=response.status_code,
                method=method,
                path=path,
                hint="Run the sync again; if it persists, report it to Spotify.",
            )
        return body


def _shape_error(what: str, problem: str) -> SpotifyApiError:
    return SpotifyApiError(
        f"{what}: Spotify's answer has an unexpected shape ({problem}).",
        hint="Run the sync again; if it persists, report it to Spotify.",
    )


def _audience(item: object, what: str, *, needs_id: bool = False) -> dict[str, Any]:
    """An ``AudienceResponse`` whose fields this product reads have the documented types."""
    if not isinstance(item, dict):
        raise _shape_error(what, f"an audience is a JSON {type(item).__name__}, not an object")
    problems = []
    if (needs_id or "id" in item) and not isinstance(item.get("id"), str):
        problems.append("'id' is not a string")
    for name in ("name", "status"):
        if item.get(name) is not None and not isinstance(item[name], str):
            problems.append(f"'{name}' is not a string")
    size = item.get("size")
    if size is not None and not (
        isinstance(size, dict)
        and all(
            size.get(k) is None or (isinstance(size[k], int) and not isinstance(size[k], bool))
            for k in ("min", "max")
        )
    ):
        problems.append("'size' is not an object of whole numbers")
    if problems:
        raise _shape_error(what, "; ".join(problems))
    return item


def _upload_target(body: dict[str, Any]) -> UploadTarget:
    upload_id, url = body.get("id"), body.get("upload_url")
    if not isinstance(upload_id, str) or not isinstance(url, str):
        raise SpotifyApiError("Spotify's upload URL response lacks 'id' or 'upload_url'.")
    check_endpoint(url, what="The signed upload URL")
    return UploadTarget(id=upload_id, upload_url=url)


def parse_error_body(response: requests.Response) -> tuple[list[str], list[str], str | None]:
    """Spotify's ``{sp_trace_id, messages, error_codes|errorCodes}`` body, tolerantly."""
    try:
        body = response.json()
    except ValueError:
        return [], [], None
    if not isinstance(body, dict):
        return [], [], None
    messages = [str(m) for m in body.get("messages") or [] if m]
    codes = []
    for item in body.get("error_codes") or body.get("errorCodes") or []:
        code = item.get("code") if isinstance(item, dict) else item
        if code:
            codes.append(str(code))
    trace = body.get("sp_trace_id")
    return messages, codes, str(trace) if trace else None


def api_error(response: requests.Response, *, method: str, path: str, what: str) -> SpotifyApiError:
    """Map an error response to the right error class with the troubleshooting advice."""
    status = response.status_code
    messages, codes, trace = parse_error_body(response)
    common = {
        "status": status,
        "messages": messages,
        "error_codes": codes,
        "sp_trace_id": trace,
        "method": method,
        "path": safe_path(path),
    }
    head = f"{what} failed: HTTP {status}."
    if status == 401:
        return AuthenticationError(
            f"{what} failed: Spotify refused the access token (HTTP 401) even after a refresh.",
            hint="Authentication failed: run `spotify-audiences login` to authorize again.",
            **common,
        )
    if status == 403:
        return PermissionDeniedError(
            head,
            hint="Your Spotify user may lack audience permissions on this ad account, or the "
            f"Ads API terms are not accepted for this client id: accept them at {API_TERMS_URL} "
            "and allow up to an hour.",
            **common,
        )
    if status == 404:
        return NotFoundError(
            head,
            hint=f"Check {ENV_AD_ACCOUNT_ID} (a UUID from Ads Manager account settings) and any "
            "audience id you configured; the user must have access to that ad account.",
            **common,
        )
    if status == 429:
        return RateLimitedError(
            f"{what} failed: still rate limited (HTTP 429) after waiting.",
            hint="Run the sync again later, or with a longer --deadline.",
            **common,
        )
    if status >= 500:
        return ServerError(
            head, hint="Spotify had an internal error; run the sync again later.", **common
        )
    if status == 400:
        return BadRequestError(head, **common)
    return SpotifyApiError(head, **common)
