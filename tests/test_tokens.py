"""Token handling against the sandbox: refresh ahead of expiry, rotation, and no leaks."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
import requests
from support import run_cli

from spotify_audiences.auth import AccessTokens
from spotify_audiences.config import Secret
from spotify_audiences.transport import Transport


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _token_requests(sandbox) -> int:
    return sum(1 for r in sandbox.requests() if r["path"] == "/api/token")


def test_access_token_is_refreshed_60_seconds_before_it_expires(sandbox):
    env = sandbox.env()
    clock = FakeClock()
    tokens = AccessTokens(
        Transport(clock=clock),
        accounts_url=env["SPOTIFY_ACCOUNTS_URL"],
        client_id=env["SPOTIFY_CLIENT_ID"],
        client_secret=Secret(env["SPOTIFY_CLIENT_SECRET"]),
        refresh_token=Secret(env["SPOTIFY_REFRESH_TOKEN"]),
    )
    first = tokens.token()
    assert _token_requests(sandbox) == 1
    clock.now += 3600 - 61
    assert tokens.token() == first
    assert _token_requests(sandbox) == 1
    clock.now += 2  # now inside the 60 s margin
    assert tokens.token() != first
    assert _token_requests(sandbox) == 2


def test_a_rotated_refresh_token_is_saved_to_the_token_file(sandbox, demo_build, tmp_path):
    sandbox.config.rotate_refresh_token = True
    env = sandbox.env()
    original = env.pop("SPOTIFY_REFRESH_TOKEN")
    token_file = tmp_path / "token.json"
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"refresh_token": original}, fh)

    result = run_cli(
        "sync",
        "--token-file",
        str(token_file),
        "--audience",
        "Podcast Superfans",
        env={**env, **demo_build.env()},
    )

    assert result.returncode == 0, result.stderr
    rotated = json.loads(token_file.read_text())["refresh_token"]
    assert rotated != original
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    old = requests.post(
        env["SPOTIFY_ACCOUNTS_URL"] + "/api/token",
        data={"grant_type": "refresh_token", "refresh_token": original},
        auth=(env["SPOTIFY_CLIENT_ID"], env["SPOTIFY_CLIENT_SECRET"]),
        timeout=10,
    )
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    again = run_cli(
        "sync",
        "--token-file",
        str(token_file),
        "--audience",
        "Podcast Superfans",
        "--force",
        env={**env, **demo_build.env()},
    )
    assert again.returncode == 0, again.stderr
    assert rotated not in result.stdout + result.stderr + again.stdout + again.stderr


def test_too_big_a_file_is_refused_before_any_call(sandbox, demo_build):
    result = run_cli(
        "sync", "--max-bytes", "1000", "--json", env={**sandbox.env(), **demo_build.env()}
    )
    assert result.returncode == 3
    assert "at most 1,000 bytes" in result.stdout
    assert [r for r in sandbox.requests() if r["path"] != "/api/token"] == []


def test_no_token_secret_or_signed_url_in_debug_output(sandbox, demo_build):
    env = {**sandbox.env(), **demo_build.env()}
    result = run_cli("-v", "sync", "--force", env=env)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    issued = list(sandbox.store.access_tokens)
    assert issued, "the sandbox issued no token: the test checks nothing"
    for secret in [*issued, env["SPOTIFY_CLIENT_SECRET"], env["SPOTIFY_REFRESH_TOKEN"]]:
        assert secret not in output
    assert "X-Goog-Signature" not in output and "upload_id=" not in output


def _token_file(path, refresh_token, *, mode=0o600, **extra):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        json.dump({"refresh_token": refresh_token, **extra}, fh)
    os.chmod(path, mode)
    return path


def _with_file(sandbox, demo_build):
    env = sandbox.env()
    return env.pop("SPOTIFY_REFRESH_TOKEN"), {**env, **demo_build.env()}


def test_a_token_file_others_can_read_is_used_with_a_warning(sandbox, demo_build, tmp_path):
    token, env = _with_file(sandbox, demo_build)
    token_file = _token_file(tmp_path / "token.json", token, mode=0o644)

    result = run_cli(
        "sync", "--token-file", str(token_file), "--audience", "Podcast Superfans", env=env
    )

    assert result.returncode == 0, result.stderr
    assert "0644" in result.stderr and f"chmod 600 {token_file}" in result.stderr
    assert token not in result.stdout + result.stderr


def test_a_rotated_refresh_token_keeps_the_date_of_the_authorization(sandbox, demo_build, tmp_path):
    sandbox.config.rotate_refresh_token = True
    token, env = _with_file(sandbox, demo_build)
    obtained = "2026-01-02T03:04:05+00:00"
    token_file = _token_file(tmp_path / "token.json", token, obtained_at=obtained)

    result = run_cli(
        "sync", "--token-file", str(token_file), "--audience", "Podcast Superfans", env=env
    )

    assert result.returncode == 0, result.stderr
    saved = json.loads(token_file.read_text())
    assert saved["refresh_token"] != token
    assert saved["obtained_at"] == obtained


def _obtained(days_ago: float) -> tuple[str, str]:
    obtained = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days_ago)
    return obtained.isoformat(), (obtained + timedelta(days=180)).date().isoformat()


@pytest.mark.parametrize("command", ["sync", "status"])
def test_sync_and_status_warn_in_the_refresh_tokens_last_30_days(
    sandbox, demo_build, tmp_path, command
):
    token, env = _with_file(sandbox, demo_build)
    obtained, expires = _obtained(170)
    token_file = _token_file(tmp_path / "token.json", token, obtained_at=obtained)
    args = ["--audience", "Podcast Superfans"] if command == "sync" else []

    result = run_cli(command, "--token-file", str(token_file), *args, env=env)

    # The shared demo ledger also names audiences of other tests' sandboxes: `status` may
    # report those as missing; the warning comes first either way.
    assert result.returncode == 0 or command == "status", result.stderr
    assert "Traceback" not in result.stderr
    assert f"expires on {expires}" in result.stderr
    assert "`spotify-audiences login`" in result.stderr
    assert "`spotify-audiences login --print`" in result.stderr


def test_no_age_warning_for_a_young_token_or_one_without_a_date(sandbox, demo_build, tmp_path):
    token, env = _with_file(sandbox, demo_build)
    obtained, _ = _obtained(100)
    token_file = _token_file(tmp_path / "token.json", token, obtained_at=obtained)
    young = run_cli(
        "sync", "--token-file", str(token_file), "--audience", "Podcast Superfans", env=env
    )
    assert young.returncode == 0, young.stderr
    from_env = run_cli(
        "sync",
        "--audience",
        "Podcast Superfans",
        "--force",
        env={**env, "SPOTIFY_REFRESH_TOKEN": token},
    )
    assert from_env.returncode == 0, from_env.stderr
    for result in (young, from_env):
        assert "expires on" not in result.stderr and "login --print" not in result.stderr
