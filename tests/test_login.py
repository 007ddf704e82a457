"""`spotify-audiences login` end to end against the sandbox; the test plays the browser."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests
from support import BIN, ROOT, run_cli


def _start_login(sandbox, tmp_path: Path, *args: str, secret: bool = True) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOTIFY_")}
    sb = sandbox.env()
    env |= {k: sb[k] for k in ("SPOTIFY_CLIENT_ID", "SPOTIFY_ACCOUNTS_URL")}
    if secret:
        env["SPOTIFY_CLIENT_SECRET"] = sb["SPOTIFY_CLIENT_SECRET"]
    return subprocess.Popen(
        [
            str(BIN / "spotify-audiences"),
            "login",
            "--no-browser",
            "--port",
            "0",
            "--timeout",
            "60",
            "--token-file",
            str(tmp_path / "token.json"),
            *args,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _authorize_url(process: subprocess.Popen, stream: str = "stdout") -> str:
    pipe = process.stdout if stream == "stdout" else process.stderr
    for line in pipe:
        if "/authorize?" in line:
            return line.strip()
    raise AssertionError("login printed no authorize URL")


def _play_browser(url: str, *, tamper_state: bool = False) -> requests.Response:
    """What a browser does: open Spotify's page, which redirects to the loopback callback."""
    consent = requests.get(url, allow_redirects=False, timeout=10)
    assert consent.status_code in (302, 303), consent.text
    callback = consent.headers["Location"]
    assert callback.startswith("http://127.0.0.1:") and "/callback?" in callback
    if tamper_state:
        callback = callback.replace("state=", "state=forged")
    return requests.get(callback, timeout=10)


def test_login_saves_a_working_refresh_token_with_mode_0600(sandbox, tmp_path, demo_build):
    process = _start_login(sandbox, tmp_path)
    url = _authorize_url(process)
    query = parse_qs(urlsplit(url).query)
    assert query["response_type"] == ["code"] and len(query["state"][0]) >= 20
    page = _play_browser(url)
    assert page.status_code == 200 and "authorized" in page.text
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err

    token_file = tmp_path / "token.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    saved = json.loads(token_file.read_text())
    refresh_token = saved["refresh_token"]
    assert refresh_token and refresh_token not in out + err
    obtained = datetime.fromisoformat(saved["obtained_at"])
    assert abs((datetime.now(UTC) - obtained).total_seconds()) < 600

    env = {k: v for k, v in sandbox.env().items() if k != "SPOTIFY_REFRESH_TOKEN"}
    result = run_cli(
        "sync",
        "--token-file",
        str(token_file),
        "--audience",
        "Podcast Superfans",
        env={**env, **demo_build.env()},
    )
    assert result.returncode == 0, result.stderr
    assert [a["name"] for a in sandbox.list_audiences()] == ["Podcast Superfans"]

    logout = run_cli("logout", "--token-file", str(token_file))
    assert logout.returncode == 0 and not token_file.exists()


def test_login_with_pkce_and_no_client_secret(sandbox, tmp_path):
    process = _start_login(sandbox, tmp_path, "--pkce", secret=False)
    url = _authorize_url(process)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert _play_browser(url).status_code == 200
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert (tmp_path / "token.json").exists()


def test_a_forged_state_is_refused(sandbox, tmp_path):
    process = _start_login(sandbox, tmp_path)
    _play_browser(_authorize_url(process), tamper_state=True)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 4
    assert "wrong state" in err
    assert not (tmp_path / "token.json").exists()


def test_print_shows_the_token_once_and_saves_nothing(sandbox, tmp_path):
    process = _start_login(sandbox, tmp_path, "--print")
    assert _play_browser(_authorize_url(process, "stderr")).status_code == 200
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    token = out.strip()
    assert token and "\n" not in token
    assert not (tmp_path / "token.json").exists()
    refreshed = requests.post(
        sandbox.url + "/api/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(sandbox.env()["SPOTIFY_CLIENT_ID"], sandbox.env()["SPOTIFY_CLIENT_SECRET"]),
        timeout=10,
    )
    assert refreshed.status_code == 200


def test_login_on_a_port_in_use_is_a_one_line_error(sandbox, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {k: v for k, v in sandbox.env().items() if k != "SPOTIFY_REFRESH_TOKEN"}
        result = run_cli(
            "login",
            "--no-browser",
            "--port",
            str(port),
            "--token-file",
            str(tmp_path / "token.json"),
            env=env,
            timeout=60,
        )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"port {port}" in line and "--port" in line
    assert not (tmp_path / "token.json").exists()
