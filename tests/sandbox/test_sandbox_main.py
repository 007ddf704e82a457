"""``python -m spotify_ads_sandbox``, ``serve_forever`` and the loopback-only rule."""

from __future__ import annotations

import shlex
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from sandbox_helpers import TIMEOUT, Client

from spotify_ads_sandbox import Sandbox, SandboxConfig, serve_forever

REPO = Path(__file__).resolve().parents[2]
ALL_INTERFACES = ".".join(["0"] * 4)  # what the sandbox must refuse to bind


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_module_prints_exports_and_stops_on_signal(stop_signal: int) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "spotify_ads_sandbox", "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(15, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        env = {}
        for _ in range(6):
            line = process.stdout.readline()
            assert line.startswith("export "), line
            name, _, value = line.removeprefix("export ").strip().partition("=")
            env[name] = shlex.split(value)[0]
        assert set(env) == {
            "SPOTIFY_ADS_API_URL",
            "SPOTIFY_ACCOUNTS_URL",
            "SPOTIFY_CLIENT_ID",
            "SPOTIFY_CLIENT_SECRET",
            "SPOTIFY_REFRESH_TOKEN",
            "SPOTIFY_AD_ACCOUNT_ID",
        }
        token = requests.post(
            env["SPOTIFY_ACCOUNTS_URL"] + "/api/token",
            data={"grant_type": "refresh_token", "refresh_token": env["SPOTIFY_REFRESH_TOKEN"]},
            auth=(env["SPOTIFY_CLIENT_ID"], env["SPOTIFY_CLIENT_SECRET"]),
            timeout=TIMEOUT,
        ).json()["access_token"]
        listed = requests.get(
            f"{env['SPOTIFY_ADS_API_URL']}/ad_accounts/{env['SPOTIFY_AD_ACCOUNT_ID']}/audiences",
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT,
        )
        assert listed.status_code == 200
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        stderr = process.stderr.read()
        assert "stopped" in stderr
        assert env["SPOTIFY_CLIENT_SECRET"] not in stderr
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_module_refuses_a_public_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spotify_ads_sandbox", "--host", ALL_INTERFACES, "--port", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert result.returncode == 2
    assert "loopback" in result.stderr


def test_serve_forever_calls_on_ready_and_stops() -> None:
    ready: list[Sandbox] = []
    seen = threading.Event()
    stop = threading.Event()

    def on_ready(sandbox: Sandbox) -> None:
        ready.append(sandbox)
        seen.set()

    thread = threading.Thread(
        target=serve_forever,
        args=("127.0.0.1", 0, SandboxConfig(min_identifiers=5), on_ready),
        kwargs={"stop": stop},
    )
    thread.start()
    try:
        assert seen.wait(10)
        [sandbox] = ready
        assert sandbox.config.min_identifiers == 5
        Client(sandbox).login()
        store_root = sandbox.store.root
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert not store_root.exists()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(sandbox.url + "/_sandbox/state", timeout=TIMEOUT)


@pytest.mark.parametrize("host", [ALL_INTERFACES, "192.0.2.10", "::", "example.invalid"])
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        Sandbox(host=host)


def test_ipv6_loopback() -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with Sandbox(host="::1") as sandbox:
        assert sandbox.url.startswith("http://[::1]:")
        Client(sandbox).login()


def test_context_manager_cleans_up() -> None:
    with Sandbox() as sandbox:
        root = sandbox.store.root
        assert root.exists()
        sandbox.reset()
    assert not root.exists()
    sandbox.stop()  # stopping twice is harmless
