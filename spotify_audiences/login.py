"""``spotify-audiences login``: the OAuth 2.0 authorization-code flow with a loopback redirect.

The user opens Spotify's authorize page; Spotify redirects the browser to
``http://127.0.0.1:PORT/callback`` (Spotify rejects ``localhost``), where a one-shot server
receives the code. The random ``state`` is checked; PKCE (S256) is used when there is no client
secret, or on request. The caller stores the refresh token
(:class:`~spotify_audiences.credentials.TokenStore`).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import html
import http.server
import logging
import secrets
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from spotify_audiences.auth import request_token
from spotify_audiences.config import Secret
from spotify_audiences.errors import AuthenticationError, ConfigError
from spotify_audiences.transport import Retry, Transport

log = logging.getLogger(__name__)

CALLBACK_PATH = "/callback"
DEFAULT_PORT = 8888


@dataclass(frozen=True)
class Pkce:
    """An S256 code verifier and its challenge (RFC 7636)."""

    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        """A fresh random pair."""
        verifier = secrets.token_urlsafe(64)[:96]
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        return cls(verifier=verifier, challenge=challenge)


def authorize_url(
    accounts_url: str, *, client_id: str, redirect_uri: str, state: str, pkce: Pkce | None
) -> str:
    """The Spotify authorize URL the user opens (no scope: Ads access comes from the API terms)."""
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if pkce is not None:
        params |= {"code_challenge_method": "S256", "code_challenge": pkce.challenge}
    return f"{accounts_url.rstrip('/')}/authorize?{urlencode(params)}"


class _Callback:
    def __init__(self) -> None:
        self.params: dict[str, str] | None = None
        self.done = threading.Event()


def _handler(callback: _Callback) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != CALLBACK_PATH:
                self.send_error(404)
                return
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            ok = "code" in params
            message = (
                "spotify-audiences is authorized. You can close this window."
                if ok
                else f"Authorization failed: {params.get('error', 'no code')}."
            )
            body = f"<!doctype html><title>spotify-audiences</title><p>{html.escape(message)}</p>"
            payload = body.encode()
            self.send_response(200 if ok else 400)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            if callback.params is None:
                callback.params = params
                callback.done.set()

        def log_message(self, format: str, *args: object) -> None:
            pass  # the query string holds the code: never log it

    return Handler


def login(
    transport: Transport,
    *,
    accounts_url: str,
    client_id: str,
    client_secret: Secret | None,
    port: int = DEFAULT_PORT,
    use_pkce: bool = False,
    open_browser: bool = True,
    timeout: float = 300.0,
    show: Callable[[str], None] = print,
) -> Secret:
    """Run the whole flow and return the refresh token."""
    state = secrets.token_urlsafe(24)
    pkce = Pkce.new() if use_pkce or client_secret is None else None
    callback = _Callback()
    server = _listen(port, callback)
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}{CALLBACK_PATH}"
    url = authorize_url(
        accounts_url, client_id=client_id, redirect_uri=redirect_uri, state=state, pkce=pkce
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        show(f"Redirect URI (register it in your app on developer.spotify.com): {redirect_uri}")
        show(f"Open this URL to authorize spotify-audiences:\n{url}")
        if open_browser:
            webbrowser.open(url)
        if not callback.done.wait(timeout):
            raise AuthenticationError(
                f"No answer from the browser within {timeout:.0f} s.",
                hint="Run `spotify-audiences login` again and open the URL it prints.",
            )
    finally:
        server.shutdown()
        server.server_close()
    params = callback.params or {}
    if not secrets.compare_digest(params.get("state", ""), state):
        raise AuthenticationError(
            "The authorization answer carried the wrong state; it was ignored.",
            hint="Run `spotify-audiences login` again.",
        )
    if "error" in params or "code" not in params:
        raise AuthenticationError(
            f"Spotify did not authorize the app: {params.get('error', 'no code returned')}.",
            hint="Accept the request in the browser; check the redirect URI of your app.",
        )
    return exchange_code(
        transport,
        accounts_url=accounts_url,
        client_id=client_id,
        client_secret=client_secret,
        code=params["code"],
        redirect_uri=redirect_uri,
        pkce=pkce,
    )


def exchange_code(
    transport: Transport,
    *,
    accounts_url: str,
    client_id: str,
    client_secret: Secret | None,
    code: str,
    redirect_uri: str,
    pkce: Pkce | None,
) -> Secret:
    """Trade the one-time code for tokens; return the refresh token."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if pkce is not None:
        form["code_verifier"] = pkce.verifier
    granted = request_token(
        transport,
        accounts_url=accounts_url,
        client_id=client_id,
        client_secret=client_secret,
        form=form,
        # A code is single-use: never repeat this request.
        retry=Retry.NEVER,
        what="exchange the authorization code",
    )
    if granted.refresh_token is None:
        raise AuthenticationError(
            "Spotify issued an access token but no refresh token.",
            hint="Run `spotify-audiences login` again.",
        )
    return granted.refresh_token


def _listen(port: int, callback: _Callback) -> http.server.HTTPServer:
    """The one-shot loopback server, or a one-line error when the port is taken."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535; got {port}.")
    try:
        return http.server.HTTPServer(("127.0.0.1", port), _handler(callback))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"Cannot receive the authorization on 127.0.0.1 port {port}: the port is in "
                "use (another `spotify-audiences login` still running?).",
                hint="Stop that program, or pass --port N with a free port and register "
                "http://127.0.0.1:N/callback in your app on developer.spotify.com.",
            ) from None
        raise ConfigError(
            f"Cannot listen on 127.0.0.1 port {port} for the authorization: {exc.strerror}.",
            hint="Pass --port N with a free port (1024-65535).",
        ) from None
