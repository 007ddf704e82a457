"""The client's retry rule, deadline and credentials module, against the sandbox on loopback."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from spotify_audiences.auth import AccessTokens
from spotify_audiences.config import Secret
from spotify_audiences.credentials import refresh_token_age_warning
from spotify_audiences.errors import (
    EXIT_NETWORK,
    ConfigError,
    DeadlineExceededError,
    ServiceUnavailableError,
)
from spotify_audiences.transport import Deadline, Retry, RetryPolicy, Transport, server_wait


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("rng", [0.0, 0.5, 1.0])
def test_backoff_with_jitter_never_passes_the_cap(rng):
    policy = RetryPolicy(rng=lambda: rng)
    delays = [policy.backoff(attempt) for attempt in range(1, 12)]
    assert all(0 < delay <= policy.max_delay for delay in delays)
    assert delays[0] == pytest.approx(1.0 * (1 - 0.25 + 0.5 * rng))


def test_only_a_429_waits_for_the_rate_limit_reset():
    headers = {"X-RateLimit-Reset": "600"}
    assert server_wait(headers, 429) == 600
    assert server_wait(headers, 503) is None
    assert server_wait({"Retry-After": "7", **headers}, 503) == 7
    assert server_wait({"Retry-After": "soon"}, 503) is None


def _transport(clock, seconds=None, **kwargs):
    return Transport(clock=clock, deadline=Deadline(seconds, clock), **kwargs)


def test_a_spent_deadline_sends_nothing(sandbox):
    clock = FakeClock()
    transport = _transport(clock, 5)
    clock.now += 5
    with pytest.raises(DeadlineExceededError) as caught:
        transport.request("GET", sandbox.url + "/ads/v3/x", retry=Retry.READ, what="probe")
    assert caught.value.exit_code == EXIT_NETWORK
    assert "--deadline of 5 s" in str(caught.value)
    assert sandbox.requests() == []


def test_a_server_wait_past_the_cap_ends_the_retries(sandbox):
    sandbox.inject({"kind": "rate_limit", "retry_after": 3600, "times": None})
    clock = FakeClock()
    transport = _transport(clock)
    response = transport.request("GET", sandbox.url + "/ads/v3/x", retry=Retry.READ, what="probe")
    assert response.status_code == 429
    assert clock.slept == []
    assert len(sandbox.requests()) == 1


def test_retry_waits_stay_inside_the_deadline(sandbox):
    sandbox.inject({"kind": "status", "status": 503, "path": "^/ads/v3/x$", "times": None})
    clock = FakeClock()
    transport = _transport(clock, 10, retry=RetryPolicy(rng=lambda: 1.0))
    response = transport.request("GET", sandbox.url + "/ads/v3/x", retry=Retry.READ, what="p")
    assert response.status_code == 503
    assert sum(clock.slept) < 10
    assert clock.slept == [1.25, 2.5, 5.0]


@pytest.mark.parametrize("timeout", [0, -1, math.nan, math.inf])
def test_a_timeout_that_is_not_a_positive_number_is_a_config_error(timeout):
    with pytest.raises(ConfigError, match="timeout"):
        Transport(timeout=timeout)


@pytest.mark.parametrize("seconds", [-1, math.nan])
def test_a_deadline_that_is_not_a_positive_number_is_a_config_error(seconds):
    with pytest.raises(ConfigError, match="deadline"):
        Deadline(seconds, FakeClock())


def test_an_html_token_answer_is_a_service_error_not_a_login_problem(sandbox):
    sandbox.inject(
        {"kind": "raw", "path": "^/api/token$", "body": "<html>Hi</html>", "times": None}
    )
    env = sandbox.env()
    tokens = AccessTokens(
        _transport(FakeClock()),
        accounts_url=env["SPOTIFY_ACCOUNTS_URL"],
        client_id=env["SPOTIFY_CLIENT_ID"],
        client_secret=Secret(env["SPOTIFY_CLIENT_SECRET"]),
        refresh_token=Secret(env["SPOTIFY_REFRESH_TOKEN"]),
    )
    with pytest.raises(ServiceUnavailableError) as caught:
        tokens.token()
    assert "not JSON" in str(caught.value) and "login" not in str(caught.value)
    assert len(sandbox.requests()) == RetryPolicy().max_attempts


NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("days", "warns"),
    [(0, False), (149, False), (150.5, True), (179, True), (181, True)],
)
def test_the_refresh_token_age_warning_starts_30_days_before_six_months(days, warns):
    obtained = NOW - timedelta(days=days)
    text = refresh_token_age_warning(obtained, now=NOW)
    assert (text is not None) == warns
    if text:
        expiry = (obtained + timedelta(days=180)).date().isoformat()
        assert expiry in text
        assert "`spotify-audiences login`" in text
        assert "`spotify-audiences login --print`" in text
        assert "\n" not in text


def test_no_age_warning_without_a_date():
    assert refresh_token_age_warning(None, now=NOW) is None


def test_the_credentials_module_does_not_load_the_browser_login():
    code = (
        "import sys, spotify_audiences.credentials, spotify_audiences.in_warehouse\n"
        "bad = {'http.server', 'webbrowser', 'spotify_audiences.login'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
