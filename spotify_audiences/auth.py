"""Spotify Accounts: the one token-endpoint POST, and access tokens refreshed ahead of expiry.

:func:`request_token` is shared by the refresh here and the code exchange of ``login``. It tells
the three kinds of failure apart: an OAuth error body (``invalid_grant``: log in again;
``invalid_client``: check the app's credentials), a service failure (5xx, 429, or an answer that
is not OAuth JSON, such as a proxy's HTML page: try again later, never "log in again"), and a
redirect (refused by the transport, because the request carries the credentials).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from spotify_audiences.config import ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REFRESH_TOKEN, Secret
from spotify_audiences.errors import (
    AuthenticationError,
    ServiceUnavailableError,
    SpotifyAudiencesError,
    TokenExpiredError,
)
from spotify_audiences.transport import Retry, Transport

log = logging.getLogger(__name__)

REFRESH_MARGIN_SECONDS = 60.0
TOKEN_PATH = "/api/token"  # noqa: S105 - a URL path
DEFAULT_EXPIRES_IN = 3600.0


class RefreshTokenSink(Protocol):
    """Where a rotated refresh token is persisted (token file, Snowflake secret, nowhere)."""

    def save(self, refresh_token: Secret) -> None:
        """Persist the new refresh token."""
        ...


class LogRotationSink:
    """Where a rotated refresh token cannot be written back: say so, never show it."""

    def __init__(self, where: str) -> None:
        self._where = where

    def save(self, refresh_token: Secret) -> None:
        """Log a warning naming where to update the token."""
        log.warning(
            "Spotify rotated the refresh token; the old one may stop working. Run "
            "`spotify-audiences login --print` and update %s.",
            self._where,
        )


@dataclass(frozen=True)
class TokenResponse:
    """A successful token-endpoint answer."""

    access_token: Secret
    expires_in: float
    refresh_token: Secret | None

    def __repr__(self) -> str:  # tokens are credentials: never show them
        return f"TokenResponse(expires_in={self.expires_in:g})"


def token_url(accounts_url: str) -> str:
    """The token endpoint under an Accounts base URL."""
    return accounts_url.rstrip("/") + TOKEN_PATH


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _not_oauth_json(response: requests.Response) -> bool:
    """An answer no OAuth server sends: an HTML page, ``[]``...; worth another try."""
    return _json_object(response) is None


def request_token(
    transport: Transport,
    *,
    accounts_url: str,
    client_id: str,
    client_secret: Secret | None,
    form: Mapping[str, str],
    retry: Retry,
    what: str,
) -> TokenResponse:
    """POST one grant to the token endpoint and return the tokens, or raise the right error.

    The client authenticates with HTTP Basic when it has a secret, else (PKCE) by sending its
    ``client_id`` in the form. With ``Retry.READ``, 5xx, 429 and answers that are not a JSON
    object are repeated like any read.
    """
    data = dict(form)
    auth = None
    if client_secret is not None:
        auth = (client_id, client_secret.reveal())
    else:
        data["client_id"] = client_id
    response = transport.request(
        "POST",
        token_url(accounts_url),
        data=data,
        auth=auth,
        retry=retry,
        what=what,
        retry_on=_not_oauth_json,
    )
    body = _json_object(response)
    status = response.status_code
    if body is None:
        kind = (response.headers.get("Content-Type") or "no content type").split(";")[0]
        raise _service_error(
            f"answered HTTP {status} with a body that is not JSON ({kind})", status
        )
    access_token = body.get("access_token")
    if status == 200 and isinstance(access_token, str) and access_token:
        refresh_token = body.get("refresh_token")
        return TokenResponse(
            access_token=Secret(access_token),
            expires_in=_expires_in(body.get("expires_in")),
            refresh_token=Secret(refresh_token)
            if isinstance(refresh_token, str) and refresh_token
            else None,
        )
    raise token_error(status, body, grant_type=form.get("grant_type", ""))


def _describe_body(response: requests.Response) -> str:
    try:
        response.json()
    except ValueError:
        kind = (response.headers.get("Content-Type") or "no content type").split(";")[0]
        return f"a body that is not JSON ({kind.strip()[:40]})"
    return "JSON that is not an object"


def _expires_in(value: object) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_EXPIRES_IN
    return seconds if seconds > 0 and math.isfinite(seconds) else DEFAULT_EXPIRES_IN


def _service_error(what_happened: str, status: int | None) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        f"Spotify's token endpoint {what_happened}.",
        status=status,
        hint="That is a service outage or something in between (a proxy, a captive portal), "
        "not a problem with your credentials: nothing was changed; run the command again "
        "later. If it persists, check SPOTIFY_ACCOUNTS_URL and any HTTP proxy settings.",
    )


def token_error(
    status: int, body: Mapping[str, object], *, grant_type: str = "refresh_token"
) -> SpotifyAudiencesError:
    """Map a token-endpoint answer that carries no token to an actionable error.

    Only an OAuth error body means the credentials are at fault (``invalid_grant``,
    ``invalid_client``, ...); a 5xx, a 429 or a body without an OAuth error is a service error.
    """
    code = str(body.get("error") or "")
    description = str(body.get("error_description") or "").strip()
    said = [description] if description else []
    if status >= 500 or status == 429:
        detail = f" ({code})" if code else ""
        return _service_error(f"answered HTTP {status}{detail}, even after retries", status)
    if not code or not 400 <= status < 500:
        return _service_error(
            f"answered HTTP {status} without an access token or an OAuth error", status
        )
    if code == "invalid_grant" and grant_type == "authorization_code":
        return AuthenticationError(
            "Spotify refused the authorization code (it is single-use, valid for 10 minutes, "
            "and the redirect URI must match the one authorized).",
            status=status,
            messages=said,
            hint="Run `spotify-audiences login` again.",
        )
    if code == "invalid_grant":
        return TokenExpiredError(
            "The Spotify refresh token expired or was revoked "
            "(refresh tokens expire six months after authorization).",
            status=status,
            messages=said,
            hint=f"Run `spotify-audiences login` and update {ENV_REFRESH_TOKEN} "
            "or the Snowflake secret that holds it.",
        )
    if code == "invalid_client":
        return AuthenticationError(
            "Spotify refused the client credentials.",
            status=status,
            messages=said,
            hint=f"Check {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} against your app on "
            "developer.spotify.com.",
        )
    return AuthenticationError(
        f"Spotify's token endpoint refused the request (HTTP {status}, {code}).",
        status=status,
        messages=said,
        hint=f"Check {ENV_CLIENT_ID}, {ENV_CLIENT_SECRET} and the app's settings on "
        "developer.spotify.com.",
    )


class AccessTokens:
    """Hands out a valid access token, refreshing it 60 s before it expires.

    The refresh token is kept when a refresh response carries none; a rotated one replaces it
    and goes to ``sink``.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        accounts_url: str,
        client_id: str,
        client_secret: Secret | None,
        refresh_token: Secret,
        sink: RefreshTokenSink | None = None,
    ) -> None:
        self._transport = transport
        self._accounts_url = accounts_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._sink = sink
        self._access_token: Secret | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        """A bearer token valid for at least the refresh margin."""
        with self._lock:
            now = self._transport.clock.monotonic()
            if self._access_token is None or now >= self._expires_at - REFRESH_MARGIN_SECONDS:
                self._refresh()
            assert self._access_token is not None
            return self._access_token.reveal()

    def invalidate(self) -> None:
        """Forget the access token (Spotify answered 401); the next call refreshes."""
        with self._lock:
            self._access_token = None

    def _refresh(self) -> None:
        granted = request_token(
            self._transport,
            accounts_url=self._accounts_url,
            client_id=self._client_id,
            client_secret=self._client_secret,
            form={"grant_type": "refresh_token", "refresh_token": self._refresh_token.reveal()},
            retry=Retry.READ,
            what="token refresh",
        )
        self._access_token = granted.access_token
        self._expires_at = self._transport.clock.monotonic() + granted.expires_in
        rotated = granted.refresh_token
        if rotated is not None and rotated.reveal() != self._refresh_token.reveal():
            self._refresh_token = rotated
            log.info("Spotify rotated the refresh token; storing the new one")
            if self._sink is not None:
                self._sink.save(self._refresh_token)
        log.debug("access token refreshed, valid for %.0f s", granted.expires_in)
