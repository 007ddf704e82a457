"""Request/response plumbing shared by the sandbox's Accounts, Ads API and GCS handlers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from xml.sax.saxutils import escape

BLOCK_SIZE = 64 * 1024
MAX_JSON_BODY = 1024 * 1024


class BodyReader:
    """Reads a request body in blocks, by Content-Length or chunked transfer coding."""

    def __init__(self, rfile: IO[bytes], content_length: int | None, chunked: bool) -> None:
        self._rfile = rfile
        self._remaining = content_length or 0
        self._chunked = chunked
        self._chunk_left = 0
        self._done = not chunked and not content_length
        self.bytes_read = 0
        # True once the peer vanished before the announced body was complete.
        self.truncated = False

    @property
    def length(self) -> int | None:
        """The announced body length, or None for a chunked body."""
        return None if self._chunked else self.bytes_read + self._remaining

    @property
    def done(self) -> bool:
        """Whether the whole body has been consumed."""
        return self._done

    def read(self, size: int = BLOCK_SIZE) -> bytes:
        """Return up to ``size`` bytes of the body; b"" at its end."""
        if self._done or size <= 0:
            return b""
        data = self._read_chunked(size) if self._chunked else self._read_plain(size)
        self.bytes_read += len(data)
        return data

    def _read_plain(self, size: int) -> bytes:
        data = self._rfile.read(min(size, self._remaining))
        if not data:
            self.truncated = True
            self._done = True
            return b""
        self._remaining -= len(data)
        if self._remaining == 0:
            self._done = True
        return data

    def _read_chunked(self, size: int) -> bytes:
        if self._chunk_left == 0:
            line = self._rfile.readline(1024)
            if not line:
                self.truncated = True
                self._done = True
                return b""
            try:
                self._chunk_left = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.truncated = True
                self._done = True
                return b""
            if self._chunk_left == 0:
                # Skip trailers up to the blank line that ends the body.
                while True:
                    trailer = self._rfile.readline(1024)
                    if trailer in (b"\r\n", b"\n", b""):
                        break
                self._done = True
                return b""
        data = self._rfile.read(min(size, self._chunk_left))
        if not data:
            self.truncated = True
            self._done = True
            return b""
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._rfile.readline(16)
        return data

    def read_all(self, limit: int) -> bytes | None:
        """Return the whole body, or None (after draining it) when it exceeds ``limit``."""
        parts: list[bytes] = []
        total = 0
        while True:
            block = self.read()
            if not block:
                return b"".join(parts)
            total += len(block)
            if total > limit:
                self.drain()
                return None
            parts.append(block)

    def drain(self) -> None:
        """Read and discard what is left of the body."""
        while self.read():
            pass

    def blocks(self) -> Iterator[bytes]:
        """Iterate over the rest of the body."""
        while True:
            block = self.read()
            if not block:
                return
            yield block


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: BodyReader
    client_host: str

    def header(self, name: str) -> str | None:
        """A header value (case-insensitive name), or None."""
        return self.headers.get(name.lower())

    def query_one(self, name: str) -> str | None:
        """The last value of a query parameter, or None."""
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Response:
    """What a handler answers. ``drop`` closes the connection without sending anything."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = None
    drop: bool = False
    # A file to send after ``body`` instead of it (large payloads stay on disk).
    stream: IO[bytes] | None = None
    stream_length: int = 0

    def with_headers(self, headers: list[tuple[str, str]]) -> Response:
        """Add headers and return self."""
        self.headers.extend(headers)
        return self


def json_response(
    status: int, payload: Any, headers: list[tuple[str, str]] | None = None
) -> Response:
    """A JSON response."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, list(headers or []), "application/json; charset=utf-8")


def spotify_error(
    status: int,
    messages: str | list[str],
    codes: list[tuple[str, str]] | tuple[str, str],
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    """An Ads API ``ErrorResponse``: ``{sp_trace_id, messages, error_codes}``."""
    if isinstance(messages, str):
        messages = [messages]
    if isinstance(codes, tuple):
        codes = [codes]
    payload = {
        "sp_trace_id": str(uuid.uuid4()),
        "messages": messages,
        "error_codes": [{"code": code, "definition": definition} for code, definition in codes],
    }
    return json_response(status, payload, headers)


def oauth_error(
    status: int, error: str, description: str, headers: list[tuple[str, str]] | None = None
) -> Response:
    """An RFC 6749 token-endpoint error."""
    return json_response(status, {"error": error, "error_description": description}, headers)


def gcs_error(status: int, code: str, message: str, details: str | None = None) -> Response:
    """A Cloud Storage XML API error document."""
    parts = [f"<Code>{escape(code)}</Code>", f"<Message>{escape(message)}</Message>"]
    if details:
        parts.append(f"<Details>{escape(details)}</Details>")
    body = "<?xml version='1.0' encoding='UTF-8'?><Error>" + "".join(parts) + "</Error>"
    return Response(status, body.encode(), [], "application/xml; charset=UTF-8")


def plain_response(
    status: int, text: str, content_type: str = "text/plain; charset=utf-8"
) -> Response:
    """A small text response."""
    return Response(status, text.encode(), [], content_type)
