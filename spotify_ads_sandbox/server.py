"""The HTTP server, the :class:`Sandbox` facade and :func:`serve_forever`."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import shlex
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import accounts, ads_api, control, gcs
from .config import SandboxConfig
from .faults import Fault, FaultBook, parse_faults
from .http_util import (
    BLOCK_SIZE,
    BodyReader,
    Request,
    Response,
    gcs_error,
    oauth_error,
    plain_response,
    spotify_error,
)
from .store import Store

logger = logging.getLogger("spotify_ads_sandbox")

_GCS_CODES = {500: "InternalError", 502: "BadGateway", 503: "ServiceUnavailable", 429: "SlowDown"}
_SPOTIFY_CODES = {
    500: ("SERVER.INTERNAL_ERROR", "Internal server error"),
    502: ("SERVER.BAD_GATEWAY", "Bad gateway"),
    503: ("SERVER.SERVICE_UNAVAILABLE", "Service unavailable"),
    504: ("SERVER.GATEWAY_TIMEOUT", "Gateway timeout"),
}


def is_loopback_host(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Idle keep-alive connections would make server_close wait forever.
    block_on_close = False
    sandbox: Sandbox


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SpotifyAdsSandbox/1.0"
    sys_version = ""
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; without this, Nagle's algorithm and the
        # peer's delayed ACK add ~40 ms to every response.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.sandbox._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.sandbox._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        # The default logs the request line, which carries signed URLs and session ids.
        return

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length: int | None = None
        if not chunked and "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                length = -1
            if length < 0:
                self.close_connection = True
                self._send(plain_response(400, "Bad Content-Length"))
                return
        body = BodyReader(self.rfile, length, chunked)
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            body=body,
            client_host=self.client_address[0],
        )
        response = self.server.sandbox._handle(request)
        if response.drop or body.truncated:
            if response.stream is not None:
                response.stream.close()
            self._drop()
            return
        if not body.done:
            body.drain()
        self._send(response)

    def _send(self, response: Response) -> None:
        stream = response.stream
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            length = response.stream_length if stream else len(response.body)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if self.command != "HEAD":
                if stream is not None:
                    while block := stream.read(BLOCK_SIZE):
                        self.wfile.write(block)
                elif response.body:
                    self.wfile.write(response.body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        finally:
            if stream is not None:
                stream.close()

    def _drop(self) -> None:
        self.close_connection = True
        try:
            # Linger 0: closing sends a reset, as a crashed or cut-off server would.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _seconds_header(seconds: float) -> str:
    return str(math.ceil(seconds))


class Sandbox:
    """A local Spotify Ads API + Accounts + GCS upload host, served on a background thread.

    Use ``start()``/``stop()`` or ``with Sandbox(...) as sb:``.
    """

    def __init__(
        self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        if not is_loopback_host(host):
            raise ValueError(f"the sandbox only binds to a loopback address, not {host!r}")
        self.config: SandboxConfig = config or SandboxConfig()
        self.host = host
        self._requested_port = port
        self._faults = FaultBook()
        self._store: Store | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Bind and serve in a background thread; return self."""
        if self._server is not None:
            return self
        store = Store(self.config)
        try:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            server_class = _Server6 if family == socket.AF_INET6 else _Server
            server = server_class((self.host.strip("[]"), self._requested_port), _Handler)
        except BaseException:
            store.close()
            raise
        server.sandbox = self
        self._store = store
        self._server = server
        self._bound_port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="spotify-ads-sandbox",
            daemon=True,
        )
        self._thread.start()
        logger.info("Spotify Ads sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and delete stored files."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _track(self, connection: socket.socket, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    @property
    def store(self) -> Store:
        """The sandbox state (available once started)."""
        if self._store is None:
            raise RuntimeError("the sandbox is not started")
        return self._store

    # --- addresses and credentials --------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the sandbox listens (or listened) on."""
        if self._bound_port is None:
            raise RuntimeError("the sandbox is not started")
        return self._bound_port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:PORT``."""
        host = self.host.strip("[]")
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment variables that point a client at this sandbox."""
        return {
            "SPOTIFY_ADS_API_URL": f"{self.url}{ads_api.API_PREFIX}",
            "SPOTIFY_ACCOUNTS_URL": self.url,
            "SPOTIFY_CLIENT_ID": self.config.client_id,
            "SPOTIFY_CLIENT_SECRET": self.config.client_secret,
            "SPOTIFY_REFRESH_TOKEN": self.config.refresh_token,
            "SPOTIFY_AD_ACCOUNT_ID": self.config.ad_account_id,
        }

    # --- inspection -----------------------------------------------------------------------

    def list_audiences(self, ad_account_id: str | None = None) -> list[dict[str, Any]]:
        """``AudienceResponse`` snapshots of every audience (of one ad account), newest first."""
        return self.store.audience_snapshots(ad_account_id.lower() if ad_account_id else None)

    def audience_members(self, audience_id: str) -> set[tuple[str, str]]:
        """The (type, value) pairs of an audience's active list (KeyError if unknown)."""
        return self.store.members(audience_id.lower())

    def audience_file(self, audience_id: str) -> bytes:
        """The exact bytes of the file currently active for an audience (KeyError if none)."""
        return self.store.file_bytes(audience_id.lower())

    def uploads(self) -> list[dict[str, Any]]:
        """Every upload (one per ``upload_url`` answer) and what was sent to it."""
        with self.store.lock:
            return [upload.to_dict() for upload in self.store.uploads.values()]

    def requests(self) -> list[dict[str, Any]]:
        """Handled requests: method, path without query, status (None when dropped), fault."""
        with self.store.lock:
            return [dict(entry) for entry in self.store.request_log]

    def state(self) -> dict[str, Any]:
        """The document served at ``GET /_sandbox/state``."""
        return self.store.state()

    # --- steering -------------------------------------------------------------------------

    def inject(self, fault: dict[str, Any] | list[dict[str, Any]] | Fault | list[Fault]) -> None:
        """Add fault rules (JSON-shaped dicts, see the package docstring) after pending ones."""
        items = fault if isinstance(fault, list) else [fault]
        parsed = [item if isinstance(item, Fault) else parse_faults(item)[0] for item in items]
        self._faults.add(parsed)

    def clear_faults(self) -> None:
        """Drop every pending fault rule."""
        self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        """The pending fault rules."""
        return self._faults.snapshot()

    def reset(self) -> None:
        """Forget audiences, uploads, files, faults, logs, rate windows, codes and refresh tokens.

        The configured refresh token returns to its configured state; access tokens already
        issued stay valid.
        """
        self._faults.clear()
        self.store.reset()

    def set_audience_live(self, audience_id: str, live: bool = True) -> None:
        """Mark an audience as targeted by an ad set (LIVE), as Ads Manager would."""
        with self.store.lock:
            self.store.audiences[audience_id.lower()].live = live

    def set_refresh_token_state(self, refresh_token: str | None, state: str) -> int:
        """Set a refresh token (None: every one) to "valid", "expired" or "revoked"."""
        return self.store.set_refresh_token_state(refresh_token, state)

    def expire_refresh_token(self, refresh_token: str | None = None) -> None:
        """Make a refresh token (None: every one) answer ``invalid_grant`` "expired"."""
        self.set_refresh_token_state(refresh_token, "expired")

    def revoke_refresh_token(self, refresh_token: str | None = None) -> None:
        """Make a refresh token (None: every one) answer ``invalid_grant`` "revoked"."""
        self.set_refresh_token_state(refresh_token, "revoked")

    # --- request handling -----------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        if request.path.startswith(control.CONTROL_PREFIX):
            return control.handle(self, request)
        store = self.store
        fault = self._faults.take(request.method, request.path)
        try:
            response = self._serve(store, request, fault)
        except Exception:
            logger.exception("sandbox error on %s %s", request.method, request.path)
            response = spotify_error(
                500, "Internal server error", ("SERVER.INTERNAL_ERROR", "Sandbox failure")
            )
        dropped = response.drop or request.body.truncated
        store.log_request(
            request.method,
            request.path,
            None if dropped else response.status,
            fault.kind if fault else None,
        )
        logger.debug(
            "%s %s -> %s", request.method, request.path, "dropped" if dropped else response.status
        )
        return response

    def _serve(self, store: Store, request: Request, fault: Fault | None) -> Response:
        if fault is not None:
            if fault.kind == "delay":
                time.sleep(fault.params["seconds"])
            elif fault.kind in ("status", "rate_limit", "unauthorized", "invalid_grant"):
                return self._fault_response(store, request, fault)
            elif fault.kind == "redirect":
                request.body.drain()
                location = [("Location", fault.params["location"])]
                return Response(fault.params["status"], b"", location)
            elif fault.kind == "raw":
                request.body.drain()
                body = fault.params["body"].encode()
                return Response(fault.params["status"], body, [], fault.params["content_type"])
        gcs_kinds = ("drop_after_bytes", "session_gone", "no_progress")
        gcs_fault = fault if fault and fault.kind in gcs_kinds else None
        response = self._route(store, request, gcs_fault)
        if fault is not None and fault.kind == "commit_then_drop":
            response.drop = True
        return response

    def _route(self, store: Store, request: Request, gcs_fault: Fault | None) -> Response:
        path = request.path
        if path == ads_api.API_PREFIX or path.startswith(ads_api.API_PREFIX + "/"):
            return ads_api.handle(store, request, self.url)
        if path in ("/authorize", "/authorize/"):
            request.body.drain()
            return accounts.authorize(store, request)
        if path == "/api/token":
            return accounts.token(store, request)
        if path.startswith("/gcs/"):
            return gcs.handle(store, request, self.url, gcs_fault)
        request.body.drain()
        return spotify_error(404, "Resource not found", ("NOT_FOUND.RESOURCE", "Unknown path."))

    def _fault_response(self, store: Store, request: Request, fault: Fault) -> Response:
        kind, params, path = fault.kind, fault.params, request.path
        if kind == "invalid_grant":
            return self._invalid_grant(store, request, fault)
        request.body.drain()
        if kind == "unauthorized":
            store.invalidate_access_tokens()
        retry_after = params.get("retry_after")
        extra: list[tuple[str, str]] = []
        if retry_after is not None:
            extra.append(("Retry-After", _seconds_header(retry_after)))
        if kind == "rate_limit":
            extra += [
                ("X-RateLimit-Limit", str(store.config.rate_limit)),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", _seconds_header(retry_after)),
            ]
        elif path.startswith(ads_api.API_PREFIX + "/"):
            extra += store.rate(ads_api.rate_key(store, request), count=False).headers()
        status = {"rate_limit": 429, "unauthorized": 401}.get(kind) or params["status"]
        message = params.get("message")
        response = self._fault_body(request, kind, status, message, extra)
        chosen = params.get("headers") or {}
        if chosen:
            lowered = {name.lower() for name in chosen}
            response.headers = [h for h in response.headers if h[0].lower() not in lowered]
            response.headers.extend(chosen.items())
        return response

    def _fault_body(
        self,
        request: Request,
        kind: str,
        status: int,
        message: str | None,
        extra: list[tuple[str, str]],
    ) -> Response:
        path = request.path

        if path.startswith("/gcs/"):
            code = _GCS_CODES.get(status, "InjectedFault")
            return gcs_error(status, code, message or "Injected fault").with_headers(extra)
        if path in ("/api/token", "/authorize", "/authorize/"):
            error = {429: "rate_limited", 401: "invalid_client", 503: "temporarily_unavailable"}
            return oauth_error(
                status, error.get(status, "server_error"), message or "Injected fault", extra
            )
        if kind == "unauthorized":
            response = ads_api.unauthorized("invalid")
            return response.with_headers(extra)
        if kind == "rate_limit":
            response = spotify_error(
                429,
                message or "API rate limit exceeded",
                ("RATE_LIMIT.EXCEEDED", "Retry after the number of seconds in Retry-After."),
            )
            return response.with_headers(extra)
        code, default = _SPOTIFY_CODES.get(status, ("SANDBOX.INJECTED_FAULT", "Injected fault"))
        return spotify_error(
            status, message or default, (code, "Injected by a sandbox fault."), extra
        )

    def _invalid_grant(self, store: Store, request: Request, fault: Fault) -> Response:
        raw = request.body.read_all(64 * 1024) or b""
        if fault.params["persist"]:
            form = parse_qs(raw.decode("utf-8", "replace"))
            for token in form.get("refresh_token", []):
                store.set_refresh_token_state(token, fault.params["reason"])
        description = f"Refresh token {fault.params['reason']}"
        return oauth_error(400, "invalid_grant", description)


def export_lines(sandbox: Sandbox) -> list[str]:
    """``export NAME=value`` shell lines for :meth:`Sandbox.env`."""
    return [f"export {name}={shlex.quote(value)}" for name, value in sandbox.env().items()]


def serve_forever(
    host: str,
    port: int,
    config: SandboxConfig | None = None,
    on_ready: Callable[[Sandbox], None] | None = None,
    *,
    stop: threading.Event | None = None,
) -> None:
    """Serve a sandbox until Ctrl-C, SIGTERM or ``stop`` is set; call ``on_ready`` once listening.

    ``config`` is a :class:`~spotify_ads_sandbox.SandboxConfig` (None: the defaults).
    """
    sandbox = Sandbox(config, host=host, port=port).start()
    stop = stop or threading.Event()
    previous: Any = None
    in_main_thread = threading.current_thread() is threading.main_thread()

    def _interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        if in_main_thread:
            previous = signal.signal(signal.SIGTERM, _interrupt)
        if on_ready is not None:
            on_ready(sandbox)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if in_main_thread and previous is not None:
            signal.signal(signal.SIGTERM, previous)
        sandbox.stop()
