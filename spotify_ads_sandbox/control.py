"""``/_sandbox/...``: control endpoints for tests that drive the client as another process."""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any

from .config import REFRESH_TOKEN_STATES
from .faults import parse_faults
from .http_util import MAX_JSON_BODY, Request, Response, json_response

if TYPE_CHECKING:
    from .server import Sandbox

CONTROL_PREFIX = "/_sandbox/"
_AUDIENCE_FILE = re.compile(r"/_sandbox/audiences/([^/]+)/file")
_AUDIENCE_LIVE = re.compile(r"/_sandbox/audiences/([^/]+)/live")


def _error(status: int, message: str) -> Response:
    return json_response(status, {"error": message})


def _json(request: Request) -> Any:
    raw = request.body.read_all(MAX_JSON_BODY)
    if raw is None:
        raise ValueError("body too large")
    try:
        return json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("the body must be JSON") from None


def handle(sandbox: Sandbox, request: Request) -> Response:
    """Serve one control request."""
    method, path = request.method, request.path
    try:
        if method == "GET" and path == "/_sandbox/state":
            return json_response(200, sandbox.state())
        if method == "GET" and path == "/_sandbox/requests":
            return json_response(200, {"requests": sandbox.requests()})
        if path == "/_sandbox/faults":
            if method == "GET":
                return json_response(200, {"faults": sandbox.faults()})
            if method == "POST":
                sandbox.inject(parse_faults(_json(request)))
                return json_response(200, {"faults": sandbox.faults()})
            if method == "DELETE":
                sandbox.clear_faults()
                return json_response(200, {"faults": []})
        if method == "POST" and path == "/_sandbox/reset":
            sandbox.reset()
            return json_response(200, {"reset": True})
        if method == "POST" and path == "/_sandbox/refresh_tokens":
            body = _json(request)
            if not isinstance(body, dict) or body.get("state") not in REFRESH_TOKEN_STATES:
                raise ValueError(f"state must be one of {', '.join(REFRESH_TOKEN_STATES)}")
            changed = sandbox.set_refresh_token_state(body.get("refresh_token"), body["state"])
            return json_response(200, {"changed": changed})
        if method == "GET" and (match := _AUDIENCE_FILE.fullmatch(path)):
            try:
                handle = sandbox.store.open_file(match.group(1).lower())
            except KeyError:
                return _error(404, "no such audience")
            length = os.fstat(handle.fileno()).st_size
            return Response(200, b"", [], "text/csv", stream=handle, stream_length=length)
        if method == "POST" and (match := _AUDIENCE_LIVE.fullmatch(path)):
            body = _json(request)
            if not isinstance(body, dict) or not isinstance(body.get("live"), bool):
                raise ValueError('the body must be {"live": true|false}')
            try:
                sandbox.set_audience_live(match.group(1).lower(), body["live"])
            except KeyError:
                return _error(404, "no such audience")
            return json_response(200, {"live": body["live"]})
    except ValueError as error:
        return _error(400, str(error))
    return _error(404, f"no control endpoint {method} {path}")
