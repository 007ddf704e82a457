"""Spotify Accounts: access tokens from a refresh token, refreshed ahead of expiry."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from spotify_audiences.config import ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_REFRESH_TOKEN, Secret
from spotify_audiences.errors import AuthenticationError, TokenExpiredError
from spotify_audiences.transport import Retry, Transport

log = logging.getLogger(__name__)

REFRESH_MARGIN_SECONDS = 60.0


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
        self._token_url = accounts_url.rstrip("/") + "/api/token"
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
        data = {"grant_type": "refresh_token", "refresh_token": self._refresh_token.reveal()}
        auth = None
        if self._client_secret is not None:
            auth = (self._client_id, self._client_secret.reveal())
        else:
            data["client_id"] = self._client_id
        response = self._transport.request(
            "POST", self._token_url, data=data, auth=auth, retry=Retry.READ, what="token refresh"
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            raise token_error(response.status_code, body)
        self._access_token = Secret(str(body["access_token"]))
        expires_in = float(body.get("expires_in") or 3600)
        self._expires_at = self._transport.clock.monotonic() + expires_in
        rotated = body.get("refresh_token")
        if rotated and rotated != self._refresh_token.reveal():
            self._refresh_token = Secret(str(rotated))
            log.info("Spotify rotated the refresh token; storing the new one")
            if self._sink is not None:
                self._sink.save(self._refresh_token)
        log.debug("access token refreshed, valid for %.0f s", expires_in)


def token_error(status: int, body: dict[str, object]) -> AuthenticationError:
    """Map an Accounts error (RFC 6749 JSON) to an actionable error."""
    code = str(body.get("error") or "")
    description = str(body.get("error_description") or "").strip()
    said = [description] if description else []
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
        f"Spotify's token endpoint answered HTTP {status}{f' ({code})' if code else ''}.",
        status=status,
        messages=said,
        hint="Authentication failed: run `spotify-audiences login` again.",
    )
