"""``spotify-audiences login``: the OAuth 2.0 authorization-code flow with a loopback redirect.

The user opens Spotify's authorize page; Spotify redirects the browser to
``http://127.0.0.1:PORT/callback`` (Spotify rejects ``localhost``), where a one-shot server
receives the code. The random ``state`` is checked; PKCE (S256) is used when there is no client
secret, or on request. The refresh token goes to a :class:`TokenStore`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import http.server
import json
import logging
import os
import secrets
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from spotify_audiences.auth import LogRotationSink, RefreshTokenSink, token_error
from spotify_audiences.config import ENV_REFRESH_TOKEN, Secret, SpotifySettings
from spotify_audiences.errors import AuthenticationError, ConfigError
from spotify_audiences.transport import Retry, Transport

log = logging.getLogger(__name__)

CALLBACK_PATH = "/callback"
DEFAULT_PORT = 8888
TOKEN_FILE_MODE = 0o600
ENV_TOKEN_FILE = "SPOTIFY_AUDIENCES_TOKEN_FILE"  # noqa: S105 - a variable name


def default_token_path() -> Path:
    """``$XDG_CONFIG_HOME/spotify-audiences/token.json`` (``~/.config`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "spotify-audiences" / "token.json"


class TokenStore:
    """A refresh token in a file only its owner can read (mode 0600, directory 0700)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_token_path()

    def load(self) -> Secret | None:
        """The stored refresh token, or None."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Cannot read the token file {self.path}: {exc}") from None
        token = data.get("refresh_token") if isinstance(data, dict) else None
        return Secret(token) if token else None

    def save(self, refresh_token: Secret) -> None:
        """Write the token atomically with mode 0600."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, TOKEN_FILE_MODE)
        with os.fdopen(fd, "w") as fh:
            json.dump({"refresh_token": refresh_token.reveal(), "saved_at": int(time.time())}, fh)
        os.chmod(tmp, TOKEN_FILE_MODE)
        os.replace(tmp, self.path)

    def delete(self) -> bool:
        """Remove the token file; False when there was none."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


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
    server = http.server.HTTPServer(("127.0.0.1", port), _handler(callback))
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
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    auth = None
    if client_secret is not None:
        auth = (client_id, client_secret.reveal())
    else:
        data["client_id"] = client_id
    if pkce is not None:
        data["code_verifier"] = pkce.verifier
    # A code is single-use: never repeat this request.
    response = transport.request(
        "POST",
        accounts_url.rstrip("/") + "/api/token",
        data=data,
        auth=auth,
        retry=Retry.NEVER,
        what="exchange the authorization code",
    )
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if response.status_code == 200 and body.get("refresh_token"):
        return Secret(str(body["refresh_token"]))
    if body.get("error") == "invalid_grant":
        description = str(body.get("error_description") or "").strip()
        raise AuthenticationError(
            "Spotify refused the authorization code (it is single-use, valid for 10 minutes, "
            "and the redirect URI must match the one authorized).",
            status=response.status_code,
            messages=[description] if description else [],
            hint="Run `spotify-audiences login` again.",
        )
    raise token_error(response.status_code, body)


def settings_with_stored_token(
    settings: SpotifySettings, store: TokenStore | None = None
) -> tuple[SpotifySettings, RefreshTokenSink]:
    """The env var wins; else the token saved by ``login``, which also receives rotations.

    ``store`` defaults to ``SPOTIFY_AUDIENCES_TOKEN_FILE``, else :func:`default_token_path`.
    """
    if settings.refresh_token is not None:
        return settings, LogRotationSink(ENV_REFRESH_TOKEN)
    if store is None:
        token_file = os.environ.get(ENV_TOKEN_FILE)
        store = TokenStore(Path(token_file) if token_file else None)
    stored = store.load()
    if stored is None:
        return settings, store
    return dataclasses.replace(settings, refresh_token=stored), store
