"""HTTP with timeouts, a narrow retry policy, one deadline per sync, and logs without secrets.

The retry rules follow the project's contract:

* reads (GET, upload status queries) are retried on connection errors, timeouts, 5xx and 429;
* writes whose outcome would be unknown after a failure (create audience, upload a chunk) are
  retried only on 429, which Spotify sends before processing anything;
* ``Retry-After`` and ``X-RateLimit-Reset`` (seconds) are honoured; otherwise the wait is
  exponential with jitter and a cap; no wait may run past the sync's deadline.
"""

from __future__ import annotations

import enum
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from spotify_audiences import __version__
from spotify_audiences.errors import NetworkError

log = logging.getLogger(__name__)

USER_AGENT = f"spotify-audiences/{__version__} (+python-requests)"
WAIT_SCALE_ENV = "SPOTIFY_AUDIENCES_WAIT_SCALE"


class Clock(Protocol):
    """Time source; tests inject a fake one so that no test sleeps for real backoff."""

    def monotonic(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait."""
        ...


class SystemClock:
    """The real clock; ``scale`` shrinks every wait (tests set it so nobody sleeps for real).

    Time skipped by a shrunken wait still counts on :meth:`monotonic`, so deadlines and token
    expiry see the nominal wait while the process sleeps only ``scale`` of it.
    """

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self._skipped = 0.0

    @classmethod
    def from_env(cls) -> SystemClock:
        """Honour ``SPOTIFY_AUDIENCES_WAIT_SCALE`` (default 1: real waits)."""
        try:
            scale = float(os.environ.get(WAIT_SCALE_ENV, "1"))
        except ValueError:
            scale = 1.0
        return cls(scale=min(max(scale, 0.0), 1.0))

    def monotonic(self) -> float:
        """Seconds on the process's monotonic clock, skipped waits included."""
        return time.monotonic() + self._skipped

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (really only ``scale`` of them)."""
        time.sleep(seconds * self.scale)
        self._skipped += seconds * (1 - self.scale)


class Retry(enum.Enum):
    """Which failures a request may be repeated after."""

    READ = "read"  # safe to repeat: connection errors, timeouts, 5xx, 429
    WRITE = "write"  # outcome unknown after a failure: only 429 (not processed)
    NEVER = "never"


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff settings."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_server_wait: float = 900.0
    jitter: float = 0.25
    rng: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def backoff(self, attempt: int) -> float:
        """Delay before attempt ``attempt + 1`` (attempt counts from 1)."""
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return delay * (1 - self.jitter + 2 * self.jitter * self.rng())


def safe_path(url: str) -> str:
    """The URL without scheme, host credentials or query string: safe to log and show."""
    parts = urlsplit(url)
    return parts.path or "/"


def server_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait, from ``Retry-After`` or ``X-RateLimit-Reset``."""
    for name in ("Retry-After", "X-RateLimit-Reset"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None


class Deadline:
    """One overall time budget shared by every request of a sync."""

    def __init__(self, seconds: float | None, clock: Clock) -> None:
        self._clock = clock
        self._end = None if seconds is None else clock.monotonic() + seconds
        self.seconds = seconds

    def remaining(self) -> float | None:
        """Seconds left, or None without a deadline."""
        if self._end is None:
            return None
        return self._end - self._clock.monotonic()

    def allows(self, wait: float) -> bool:
        """Whether waiting ``wait`` seconds still leaves time for the request."""
        left = self.remaining()
        return left is None or wait < left


class Transport:
    """A ``requests.Session`` plus timeouts, retries, a deadline and safe logging."""

    def __init__(
        self,
        *,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        deadline: Deadline | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.clock = clock or SystemClock()
        self.deadline = deadline or Deadline(None, self.clock)
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        retry: Retry,
        what: str,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request, repeating it only as ``retry`` allows.

        Returns any HTTP response that is not retried (callers map error statuses). Raises
        ``NetworkError`` when the connection fails and may not (or can no longer) be retried.
        ``what`` names the call in logs and errors ("create audience").
        """
        path = safe_path(url)
        attempt = 0
        while True:
            attempt += 1
            body = kwargs.get("data")
            if attempt > 1 and hasattr(body, "rewind"):
                body.rewind()
            try:
                response = self.session.request(
                    method, url, timeout=timeout or self.timeout, **kwargs
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                kind = "timed out" if isinstance(exc, requests.Timeout) else "lost its connection"
                if retry is not Retry.READ or not self._wait(
                    attempt, None, f"{what} ({method} {path}) {kind}"
                ):
                    raise NetworkError(
                        f"{what} ({method} {path}) {kind} after {attempt} attempt(s).",
                        hint="Check the network, or raise --timeout for large files.",
                    ) from None
                continue
            log.debug("%s %s -> %s", method, path, response.status_code)
            status = response.status_code
            retryable = status == 429 or (retry is Retry.READ and status >= 500)
            if retry is Retry.NEVER or not retryable:
                return response
            asked = server_wait(response.headers)
            reason = "rate limit (429)" if status == 429 else f"server error ({status})"
            if not self._wait(attempt, asked, f"{what} ({method} {path}): {reason}"):
                return response

    def _wait(self, attempt: int, asked: float | None, why: str) -> bool:
        """Sleep before the next attempt; False when the attempts or the deadline are spent."""
        if attempt >= self.retry.max_attempts:
            log.info("%s; giving up after %d attempts", why, attempt)
            return False
        wait = self.retry.backoff(attempt) if asked is None else asked
        wait = min(wait, self.retry.max_server_wait)
        if not self.deadline.allows(wait):
            log.info("%s; waiting %.1f s would pass the sync deadline, giving up", why, wait)
            return False
        log.info("%s; waiting %.1f s before attempt %d", why, wait, attempt + 1)
        self.clock.sleep(wait)
        return True
