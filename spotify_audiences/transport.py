"""HTTP with timeouts, a narrow retry policy, one deadline per sync, and logs without secrets.

The retry rules follow the project's contract (docs/reliability.md says the same for users):

* reads (GET, upload status queries, the token refresh) are retried on connection errors,
  timeouts, 5xx and 429;
* writes whose outcome would be unknown after a failure (create audience, upload a chunk) are
  retried only on 429, which Spotify sends before processing anything;
* a 429 waits ``Retry-After``, else ``X-RateLimit-Reset``; a 5xx waits ``Retry-After`` only;
  otherwise the wait is exponential with jitter, never above ``max_delay``. A server wait above
  ``max_server_wait`` ends the retries instead of waiting;
* the deadline bounds everything: no request starts after it, each request's timeout is the
  smaller of the per-request timeout and the time left, and no wait runs past it;
* redirects are never followed: every call carries a credential (a bearer token, the client's
  Basic credentials and refresh token, or a signed upload URL).
"""

from __future__ import annotations

import enum
import logging
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests

from spotify_audiences import __version__
from spotify_audiences.errors import (
    ConfigError,
    DeadlineExceededError,
    NetworkError,
    RedirectRefusedError,
)

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
        """Delay before attempt ``attempt + 1`` (attempt counts from 1), jitter included.

        The jitter spreads the delay by +-``jitter`` around ``base_delay * 2**(attempt-1)``,
        and the result never exceeds ``max_delay``.
        """
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return min(self.max_delay, delay * (1 - self.jitter + 2 * self.jitter * self.rng()))


def safe_path(url: str) -> str:
    """The URL without scheme, host credentials or query string: safe to log and show."""
    parts = urlsplit(url)
    return parts.path or "/"


def safe_origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL: where it points, without path, query or userinfo."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme or '?'}://{host}" + (f":{port}" if port else "")


def server_wait(headers: Mapping[str, str], status: int = 429) -> float | None:
    """Seconds the server asked us to wait before repeating a request that got ``status``.

    ``Retry-After`` (seconds) counts for any status. ``X-RateLimit-Reset`` describes the rate
    window, so it counts only for a 429: it says nothing about when a 5xx will clear.
    """
    names = ("Retry-After", "X-RateLimit-Reset") if status == 429 else ("Retry-After",)
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if seconds >= 0 and math.isfinite(seconds):
            return seconds
    return None


class Deadline:
    """One overall time budget shared by every request, upload and wait of a sync."""

    def __init__(self, seconds: float | None, clock: Clock) -> None:
        if seconds is not None and not (seconds > 0 and math.isfinite(seconds)):
            raise ConfigError(f"The deadline must be a positive number of seconds; got {seconds}.")
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

    def exceeded(self, during: str) -> DeadlineExceededError:
        """The error to raise when the budget ran out ``during`` something."""
        return DeadlineExceededError(
            f"The --deadline of {self.seconds:g} s ran out {during}.",
            hint="Nothing after that point was sent, and an upload that did not finish changed "
            "nothing. Raise --deadline, or run the sync again.",
        )


def _check_timeout(timeout: float) -> float:
    if isinstance(timeout, bool) or not (timeout > 0 and math.isfinite(timeout)):
        raise ConfigError(f"The timeout must be a positive number of seconds; got {timeout}.")
    return float(timeout)


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
        self.timeout = _check_timeout(timeout)
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
        retry_on: Callable[[requests.Response], bool] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request, repeating it only as ``retry`` allows.

        Returns any HTTP response that is not retried (callers map error statuses). Raises
        ``NetworkError`` when the connection fails and may not (or can no longer) be retried,
        ``DeadlineExceededError`` when the deadline runs out first, and
        ``RedirectRefusedError`` for a redirect. ``what`` names the call in logs and errors
        ("create audience"). With ``Retry.READ``, ``retry_on`` marks further answers to repeat
        like a 5xx (the token endpoint's HTML error pages).
        """
        path = safe_path(url)
        call = f"{what} ({method} {path})"
        attempt = 0
        while True:
            attempt += 1
            body = kwargs.get("data")
            if attempt > 1 and hasattr(body, "rewind"):
                body.rewind()
            limit = timeout or self.timeout
            left = self.deadline.remaining()
            if left is not None and left <= 0:
                raise self.deadline.exceeded(f"before {call}")
            bounded = left is not None and left < limit
            try:
                response = self.session.request(
                    method,
                    url,
                    timeout=min(limit, left) if bounded else limit,
                    allow_redirects=False,
                    **kwargs,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                timed_out = isinstance(exc, requests.Timeout)
                if timed_out and bounded:
                    raise self.deadline.exceeded(f"during {call}") from None
                kind = "timed out" if timed_out else "lost its connection"
                if retry is not Retry.READ:
                    raise _network_error(call, kind, attempt) from None
                gave_up = self._wait(attempt, None, f"{call} {kind}")
                if gave_up == "deadline":
                    raise self.deadline.exceeded(f"after {call} {kind}") from None
                if gave_up:
                    raise _network_error(call, kind, attempt) from None
                continue
            log.debug("%s %s -> %s", method, path, response.status_code)
            if response.is_redirect:
                raise _redirect_error(response, url, method=method, path=path, what=what)
            status = response.status_code
            retryable = status == 429 or (
                retry is Retry.READ
                and (status >= 500 or (retry_on is not None and retry_on(response)))
            )
            if retry is Retry.NEVER or not retryable:
                return response
            asked = server_wait(response.headers, status)
            reason = (
                "rate limit (429)"
                if status == 429
                else f"server error ({status})"
                if status >= 500
                else f"unexpected answer ({status})"
            )
            if self._wait(attempt, asked, f"{call}: {reason}"):
                return response

    def pause(self, attempt: int, why: str) -> bool:
        """Back off before repeating something that failed ``attempt`` times (as ``request``
        does); False when the attempts are spent or the wait would pass the deadline."""
        return self._wait(attempt, None, why) is None

    def _wait(self, attempt: int, asked: float | None, why: str) -> str | None:
        """Sleep before the next attempt; else say why not ("attempts", "deadline", "server")."""
        if attempt >= self.retry.max_attempts:
            log.info("%s; giving up after %d attempts", why, attempt)
            return "attempts"
        if asked is not None and asked > self.retry.max_server_wait:
            log.info(
                "%s; the server asks for %.0f s, more than the %.0f s this tool waits; giving up",
                why,
                asked,
                self.retry.max_server_wait,
            )
            return "server"
        wait = self.retry.backoff(attempt) if asked is None else asked
        if not self.deadline.allows(wait):
            log.info("%s; waiting %.1f s would pass the sync deadline, giving up", why, wait)
            return "deadline"
        log.info("%s; waiting %.1f s before attempt %d", why, wait, attempt + 1)
        self.clock.sleep(wait)
        return None


def _network_error(call: str, kind: str, attempt: int) -> NetworkError:
    return NetworkError(
        f"{call} {kind} after {attempt} attempt(s).",
        hint="Check the network, or raise --timeout for large files.",
    )


def _redirect_error(
    response: requests.Response, url: str, *, method: str, path: str, what: str
) -> RedirectRefusedError:
    target = safe_origin(urljoin(url, response.headers.get("Location", "")))
    return RedirectRefusedError(
        f"{what} was answered with a redirect (HTTP {response.status_code}) to {target}; "
        "redirects are never followed because every call carries credentials, so nothing was "
        "sent there.",
        status=response.status_code,
        method=method,
        path=path,
        hint="Check that SPOTIFY_ACCOUNTS_URL and SPOTIFY_ADS_API_URL name Spotify's endpoints "
        "exactly (no proxy or old address that redirects).",
    )
