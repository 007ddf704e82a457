"""Spotify Accounts: ``GET /authorize`` and ``POST /api/token`` (OAuth 2.0 + PKCE)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from .http_util import (
    MAX_JSON_BODY,
    Request,
    Response,
    json_response,
    oauth_error,
    plain_response,
)
from .store import Store

_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_LOOPBACK_HOSTS = {"127.0.0.1", "::1"}
_BASIC_CHALLENGE = [("WWW-Authenticate", 'Basic realm="Spotify Accounts"')]


def _error_page(message: str) -> Response:
    # Spotify shows an HTML page (and does not redirect) when client or redirect URI is bad.
    html = (
        "<!DOCTYPE html><html><head><title>Error</title></head><body>"
        f"<h1>Oops! Something went wrong</h1><p>{message}</p></body></html>"
    )
    return plain_response(400, html, "text/html; charset=utf-8")


def _redirect(uri: str, params: dict[str, str]) -> Response:
    parts = urlsplit(uri)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return Response(302, b"", [("Location", location)])


def redirect_uri_problem(store: Store, redirect_uri: str) -> str | None:
    """Why ``redirect_uri`` is refused, or None when it is registered."""
    try:
        parts = urlsplit(redirect_uri)
        _ = parts.port  # a malformed port raises here
    except ValueError:
        return "Invalid redirect URI"
    host = (parts.hostname or "").lower()
    if parts.fragment:
        return "Invalid redirect URI"
    if host == "localhost":
        return "Insecure redirect URI: use a loopback IP literal such as 127.0.0.1, not localhost"
    if parts.scheme == "http" and host in _LOOPBACK_HOSTS:
        for registered in store.config.redirect_uris:
            entry = urlsplit(registered)
            if (
                entry.scheme == "http"
                and (entry.hostname or "").lower() == host
                and entry.path == parts.path
                and entry.query == parts.query
            ):
                return None
        return "Invalid redirect URI"
    if parts.scheme != "https" or not host:
        return "Insecure redirect URI"
    return None if redirect_uri in store.config.redirect_uris else "Invalid redirect URI"


def authorize(store: Store, request: Request) -> Response:
    """The consent step, answered as if the user clicked Agree (or Cancel, by config)."""
    if request.method != "GET":
        return plain_response(405, "Method not allowed")
    client_id = request.query_one("client_id")
    redirect_uri = request.query_one("redirect_uri")
    if not client_id or client_id != store.config.client_id:
        return _error_page("INVALID_CLIENT: Invalid client")
    if not redirect_uri:
        return _error_page("INVALID_CLIENT: Invalid redirect URI")
    problem = redirect_uri_problem(store, redirect_uri)
    if problem:
        return _error_page(f"INVALID_CLIENT: {problem}")

    state = request.query_one("state")
    extra = {"state": state} if state is not None else {}
    if request.query_one("response_type") != "code":
        return _redirect(redirect_uri, {"error": "unsupported_response_type", **extra})
    challenge = request.query_one("code_challenge")
    method = request.query_one("code_challenge_method")
    if (challenge is not None or method is not None) and (
        method != "S256" or challenge is None or not _CHALLENGE.fullmatch(challenge)
    ):
        return _redirect(redirect_uri, {"error": "invalid_request", **extra})
    if store.config.authorize_outcome == "deny":
        return _redirect(redirect_uri, {"error": "access_denied", **extra})
    code = store.issue_code(client_id, redirect_uri, challenge)
    return _redirect(redirect_uri, {"code": code, **extra})


def _bad_client() -> Response:
    return oauth_error(401, "invalid_client", "Invalid client", _BASIC_CHALLENGE)


def _client_credentials(
    request: Request, form: dict[str, str]
) -> tuple[str | None, str | None, Response | None]:
    """(client id, secret or None for a public client, error response)."""
    header = request.header("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None, None, _bad_client()
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None, _bad_client()
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            return None, None, _bad_client()
        if form.get("client_id") not in (None, client_id):
            return None, None, oauth_error(400, "invalid_request", "client_id mismatch")
        return client_id, secret, None
    client_id = form.get("client_id")
    if not client_id:
        return None, None, _bad_client()
    return client_id, form.get("client_secret"), None


def token(store: Store, request: Request) -> Response:
    """``POST /api/token``: the authorization_code and refresh_token grants."""
    if request.method != "POST":
        request.body.drain()
        return oauth_error(405, "invalid_request", "Method not allowed")
    content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
    raw = request.body.read_all(MAX_JSON_BODY)
    if raw is None:
        return oauth_error(400, "invalid_request", "Request body too large")
    if raw and content_type != "application/x-www-form-urlencoded":
        return oauth_error(
            400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"
        )
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return oauth_error(400, "invalid_request", "Body is not valid UTF-8")
    form = {key: values[-1] for key, values in parsed.items()}

    client_id, secret, error = _client_credentials(request, form)
    if error:
        return error
    config = store.config
    if client_id != config.client_id:
        return oauth_error(401, "invalid_client", "Invalid client", _BASIC_CHALLENGE)
    if secret is not None and not hmac.compare_digest(secret, config.client_secret):
        return oauth_error(401, "invalid_client", "Invalid client secret", _BASIC_CHALLENGE)
    public = secret is None

    grant_type = form.get("grant_type")
    if not grant_type:
        return oauth_error(400, "unsupported_grant_type", "grant_type parameter is missing")
    if grant_type == "refresh_token":
        return _refresh(store, form, client_id, public)
    if grant_type == "authorization_code":
        return _exchange_code(store, form, client_id, public)
    return oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type} is not supported")


def _token_body(access_token: str, ttl: int, refresh_token: str | None) -> dict[str, object]:
    body: dict[str, object] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl,
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    body["scope"] = ""
    return body


def _refresh(store: Store, form: dict[str, str], client_id: str, public: bool) -> Response:
    presented = form.get("refresh_token")
    if not presented:
        return oauth_error(400, "invalid_request", "refresh_token must be supplied")
    with store.lock:
        record = store.refresh_tokens.get(presented)
        if record is None or record.client_id != client_id:
            return oauth_error(400, "invalid_grant", "Invalid refresh token")
        if public and not record.pkce:
            return oauth_error(401, "invalid_client", "Invalid client secret", _BASIC_CHALLENGE)
        if record.state == "revoked":
            return oauth_error(400, "invalid_grant", "Refresh token revoked")
        if record.state == "expired" or store.now() >= record.expires_at:
            return oauth_error(400, "invalid_grant", "Refresh token expired")
        new_refresh = None
        if store.config.rotate_refresh_token:
            record.state = "revoked"
            new_refresh = store.issue_refresh_token(client_id, record.authorized_at, record.pkce)
    access = store.issue_access_token(client_id)
    return json_response(200, _token_body(access, store.config.access_token_ttl, new_refresh))


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _exchange_code(store: Store, form: dict[str, str], client_id: str, public: bool) -> Response:
    code = form.get("code")
    redirect_uri = form.get("redirect_uri")
    verifier = form.get("code_verifier")
    if not code:
        return oauth_error(400, "invalid_request", "code must be supplied")
    if not redirect_uri:
        return oauth_error(400, "invalid_request", "redirect_uri must be supplied")
    with store.lock:
        record = store.codes.get(code)
        if record is None or record.client_id != client_id:
            return oauth_error(400, "invalid_grant", "Invalid authorization code")
        if record.used or store.now() >= record.expires_at:
            return oauth_error(400, "invalid_grant", "Invalid authorization code")
        if public and record.code_challenge is None:
            return oauth_error(401, "invalid_client", "Invalid client secret", _BASIC_CHALLENGE)
        # Any exchange attempt burns the code, as authorization servers do against replay.
        record.used = True
        if redirect_uri != record.redirect_uri:
            return oauth_error(400, "invalid_grant", "Invalid redirect URI")
        if record.code_challenge is not None:
            if not verifier:
                return oauth_error(400, "invalid_request", "code_verifier required")
            if not _VERIFIER.fullmatch(verifier) or not hmac.compare_digest(
                _s256(verifier), record.code_challenge
            ):
                return oauth_error(400, "invalid_grant", "code_verifier was incorrect")
        refresh = store.issue_refresh_token(
            client_id, store.now(), pkce=record.code_challenge is not None
        )
    access = store.issue_access_token(client_id)
    return json_response(200, _token_body(access, store.config.access_token_ttl, refresh))
