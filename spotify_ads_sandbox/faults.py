"""Fault rules: scripted misbehaviour that tests inject into the sandbox."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = (
    "status",
    "rate_limit",
    "unauthorized",
    "invalid_grant",
    "delay",
    "commit_then_drop",
    "drop_after_bytes",
    "session_gone",
    "no_progress",
    "redirect",
    "raw",
)
_COMMON_KEYS = {"kind", "method", "path", "times", "skip"}
_KIND_KEYS: dict[str, dict[str, bool]] = {
    # parameter name -> required
    "status": {"status": True, "message": False, "retry_after": False, "headers": False},
    "rate_limit": {"retry_after": False},
    "unauthorized": {"message": False},
    "invalid_grant": {"reason": False, "persist": False},
    "delay": {"seconds": True},
    "commit_then_drop": {},
    "drop_after_bytes": {"bytes": True},
    "session_gone": {},
    "no_progress": {},
    "redirect": {"location": True, "status": False},
    "raw": {"body": True, "status": False, "content_type": False},
}
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
TOKEN_PATH = "/api/token"  # noqa: S105 (a URL path, not a secret)
SESSION_PATH = "/gcs/upload/resumable"


@dataclass
class Fault:
    """One rule. ``times`` None means "every matching request until cleared"."""

    kind: str
    method: str | None = None
    path: str | None = None
    times: int | None = 1
    skip: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    _pattern: re.Pattern[str] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the rule, with what is left of ``times`` and ``skip``."""
        return {
            "kind": self.kind,
            "method": self.method,
            "path": self.path,
            "times": self.times,
            "skip": self.skip,
            **self.params,
        }

    def applies_to(self, method: str, path: str) -> bool:
        """Whether this rule's filters and kind cover a request."""
        if self.method is not None and self.method != method:
            return False
        if self._pattern is not None and not self._pattern.search(path):
            return False
        if self.kind == "invalid_grant":
            return method == "POST" and path == TOKEN_PATH
        if self.kind == "drop_after_bytes":
            return method == "PUT" and path == SESSION_PATH
        if self.kind == "session_gone":
            return path == SESSION_PATH
        if self.kind == "no_progress":
            return method == "PUT" and path == SESSION_PATH
        return True


def _number(value: Any, name: str, minimum: float, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be between {minimum} and {maximum}")
    return value


def _integer(value: Any, name: str, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be between {minimum} and {maximum}")
    return value


def parse_fault(raw: Any) -> Fault:
    """Validate one fault rule given as a JSON object; raise ValueError when it is wrong."""
    if not isinstance(raw, Mapping):
        raise ValueError("a fault must be a JSON object")
    kind = raw.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
    allowed = _KIND_KEYS[kind]
    unknown = set(raw) - _COMMON_KEYS - set(allowed)
    if unknown:
        raise ValueError(f"unknown field(s) for a {kind} fault: {', '.join(sorted(unknown))}")
    missing = [name for name, required in allowed.items() if required and name not in raw]
    if missing:
        raise ValueError(f"a {kind} fault needs {', '.join(missing)}")

    method = raw.get("method")
    if method is not None:
        if not isinstance(method, str) or not method.isalpha():
            raise ValueError("method must be an HTTP method name")
        method = method.upper()
    path = raw.get("path")
    pattern = None
    if path is not None:
        if not isinstance(path, str):
            raise ValueError("path must be a regular expression string")
        try:
            pattern = re.compile(path)
        except re.error as error:
            raise ValueError(f"path is not a valid regular expression: {error}") from None
    times = raw.get("times", 1)
    if times is not None:
        times = _integer(times, "times", 1, 1_000_000)
    skip = _integer(raw.get("skip", 0), "skip", 0, 1_000_000)

    params: dict[str, Any] = {}
    if kind == "status":
        params["status"] = _integer(raw["status"], "status", 400, 599)
    if "message" in raw:
        if not isinstance(raw["message"], str):
            raise ValueError("message must be a string")
        params["message"] = raw["message"]
    if "retry_after" in raw:
        params["retry_after"] = _number(raw["retry_after"], "retry_after", 0, 86400)
    elif kind == "rate_limit":
        params["retry_after"] = 1
    if kind == "invalid_grant":
        reason = raw.get("reason", "expired")
        if reason not in ("expired", "revoked"):
            raise ValueError("reason must be 'expired' or 'revoked'")
        persist = raw.get("persist", False)
        if not isinstance(persist, bool):
            raise ValueError("persist must be true or false")
        params.update(reason=reason, persist=persist)
    if kind == "delay":
        params["seconds"] = _number(raw["seconds"], "seconds", 0, 3600)
    if kind == "drop_after_bytes":
        params["bytes"] = _integer(raw["bytes"], "bytes", 0, 2**62)
    if "headers" in raw:
        params["headers"] = _headers(raw["headers"])
    if kind == "redirect":
        location = raw["location"]
        if not isinstance(location, str) or not location or any(c in location for c in "\r\n"):
            raise ValueError("location must be a one-line URL string")
        status = raw.get("status", 307)
        if status not in REDIRECT_STATUSES:
            raise ValueError(f"a redirect status must be one of {REDIRECT_STATUSES}")
        params.update(location=location, status=status)
    if kind == "raw":
        if not isinstance(raw["body"], str):
            raise ValueError("body must be a string")
        content_type = raw.get("content_type", "text/html; charset=utf-8")
        if not isinstance(content_type, str) or any(c in content_type for c in "\r\n"):
            raise ValueError("content_type must be a one-line string")
        status = _integer(raw.get("status", 200), "status", 200, 599)
        params.update(body=raw["body"], content_type=content_type, status=status)
    return Fault(kind, method, path, times, skip, params, pattern)


def _headers(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError("headers must be an object of header names to strings")
    for name, text in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"bad header name {name!r}")
        if not isinstance(text, str) or any(c in text for c in "\r\n"):
            raise ValueError(f"the value of header {name} must be a one-line string")
    return dict(value)


def parse_faults(raw: Any) -> list[Fault]:
    """Validate one rule or a list of rules."""
    items = raw if isinstance(raw, list) else [raw]
    return [parse_fault(item) for item in items]


class FaultBook:
    """The ordered, thread-safe list of pending fault rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []

    def add(self, faults: list[Fault]) -> None:
        """Append rules after the pending ones."""
        with self._lock:
            self._rules.extend(faults)

    def clear(self) -> None:
        """Drop every pending rule."""
        with self._lock:
            self._rules.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        """The pending rules as JSON objects."""
        with self._lock:
            return [rule.to_dict() for rule in self._rules]

    def take(self, method: str, path: str) -> Fault | None:
        """The rule that fires for this request, if any; only the first matching rule counts."""
        with self._lock:
            for rule in list(self._rules):
                if not rule.applies_to(method, path):
                    continue
                if rule.skip:
                    # The first matching rule decides, even when it lets this request through.
                    rule.skip -= 1
                    return None
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times == 0:
                        self._rules.remove(rule)
                return rule
            return None
