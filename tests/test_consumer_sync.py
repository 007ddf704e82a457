"""docs/dbt-package.md word for word: a fresh virtualenv, `pip install`, the consumer project.

A new virtualenv gets this repository with `pip install` (not editable: what a user gets from a
path or a git URL). Everything below runs with that virtualenv's own `dbt` and
`spotify-audiences`: `dbt deps` and `dbt build` of tests/consumer_project, which declares two
audiences as models of its own, each in its own ad account; then the sync to the sandbox, whose
uploads per account must equal the hashes this test computes from the seed; then the test gate:
a failing test upstream of the marts means no upload from the post-hook, a CLI refusal naming
the test, and `--ignore-test-failures` syncing with the ledger saying so. The same consumer is
then built on fakesnow and synced through the CLI's Snowflake path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml
from test_consumer_project import AUDIENCE_MODELS, CONSUMER, FAILING_TEST, _expected

from spotify_ads_sandbox import Sandbox, SandboxConfig

ROOT = Path(__file__).resolve().parents[1]
ACCOUNTS = {
    "Lapsed Premium Listeners": "4f0e9a4c-2b7d-4c1e-9a53-0d6f1e2a3b4c",
    "Podcast Superfans": "7b1d2e3f-8a9b-4c5d-8e6f-a1b2c3d4e5f6",
}


@pytest.fixture(scope="module")
def user_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with this repository pip-installed into it; returns its bin/."""
    venv = tmp_path_factory.mktemp("user") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    installed = subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-c",
            str(ROOT / "constraints.txt"),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert installed.returncode == 0, installed.stderr[-4000:]
    bin_dir = venv / "bin"
    for tool in ("dbt", "spotify-audiences", "spotify-ads-sandbox"):
        assert (bin_dir / tool).exists(), f"pip install did not give {tool}"
    # the installed package, not this checkout, is what the tools import
    where = subprocess.run(
        [
            str(bin_dir / "python"),
            "-c",
            "import spotify_audiences; print(spotify_audiences.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=venv,
        check=True,
    ).stdout.strip()
    assert "site-packages" in where and not where.startswith(str(ROOT))
    return bin_dir


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, user_venv: Path) -> Path:
    """The consumer project, its packages.yml pointing at this repository, after `dbt deps`."""
    project = tmp_path_factory.mktemp("acme") / "acme_marketing"
    shutil.copytree(
        CONSUMER,
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "package-lock.yml"),
    )
    (project / "packages.yml").write_text(yaml.safe_dump({"packages": [{"local": str(ROOT)}]}))
    result = _run(user_venv, project, "dbt", "deps")
    assert result.returncode == 0, _tail(result)
    return project


@pytest.fixture
def sandbox():
    """A sandbox whose user manages both ad accounts of the consumer's config."""
    config = SandboxConfig(
        ad_account_id=ACCOUNTS["Lapsed Premium Listeners"],
        other_ad_account_ids=(ACCOUNTS["Podcast Superfans"],),
    )
    with Sandbox(config, host="127.0.0.1", port=0) as server:
        yield server


def _run(
    bin_dir: Path, project: Path, tool: str, *args: str, env: dict | None = None
) -> subprocess.CompletedProcess:
    """A command of the user's virtualenv, run from the project directory as a user would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "VIRTUAL"))}
    full_env["PATH"] = f"{bin_dir}{os.pathsep}{full_env.get('PATH', '')}"
    full_env.update(env or {})
    return subprocess.run(
        [str(bin_dir / tool), *args],
        cwd=project,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _tail(result: subprocess.CompletedProcess) -> str:
    return (result.stdout + result.stderr)[-6000:]


def _spotify_env(sandbox: Sandbox, database: Path) -> dict[str, str]:
    env = sandbox.env()
    # each audience names its own account in the config: no default account at all
    del env["SPOTIFY_AD_ACCOUNT_ID"]
    return {**env, "ACME_DUCKDB": str(database), "SPOTIFY_AUDIENCES_WAIT_SCALE": "0.001"}


def _by_name(stdout: str) -> dict[str, dict]:
    rows = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return {row["audience_name"]: row for row in rows}


def _assert_uploaded(sandbox: Sandbox, want: dict[str, dict]) -> None:
    for name, account in ACCOUNTS.items():
        (audience,) = sandbox.list_audiences(account)
        assert audience["name"] == name, f"{name} must live in {account}"
        assert sandbox.audience_members(audience["id"]) == want[name]["members"]


def test_a_users_project_builds_and_syncs_each_audience_to_its_own_account(
    user_venv, project, sandbox, tmp_path
):
    database = tmp_path / "acme.duckdb"
    env = _spotify_env(sandbox, database)
    built = _run(user_venv, project, "dbt", "build", env=env)
    assert built.returncode == 0, _tail(built)

    synced = _run(user_venv, project, "spotify-audiences", "sync", "--json", env=env)
    assert synced.returncode == 0, _tail(synced)
    results = _by_name(synced.stdout)
    assert set(results) == set(AUDIENCE_MODELS)
    for name, account in ACCOUNTS.items():
        assert results[name]["action"] == "created"
        assert results[name]["ad_account_id"] == account
    _assert_uploaded(sandbox, _expected(tmp_path))

    # the ledger beside the marts knows which account each audience went to
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            "select audience_name, ad_account_id, action from main.spotify_audience_sync_log"
        ).fetchall()
    # the intent before each upload, then its outcome
    assert sorted(rows) == sorted(
        (n, a, action) for n, a in ACCOUNTS.items() for action in ("created", "pending")
    )


def test_a_failing_test_means_no_upload_and_a_refusal_naming_it(
    user_venv, project, sandbox, tmp_path
):
    database = tmp_path / "acme.duckdb"
    env = _spotify_env(sandbox, database)
    # marts from an earlier good build are there; the next build fails a test upstream of them
    assert _run(user_venv, project, "dbt", "build", env=env).returncode == 0
    failing = json.dumps({"acme_require_lapsed_phone": True, "spotify_audiences_sync": True})
    built = _run(user_venv, project, "dbt", "build", "--vars", failing, env=env)
    assert built.returncode != 0, "the enabled test must fail the build"
    assert FAILING_TEST in built.stdout
    assert sandbox.uploads() == [], "the post-hook must not upload after a failing test"
    assert not [r for r in sandbox.requests() if "/audiences" in r.get("path", "")]

    refused = _run(user_venv, project, "spotify-audiences", "sync", "--json", env=env)
    assert refused.returncode == 3, _tail(refused)
    assert FAILING_TEST in refused.stderr + refused.stdout
    assert "--ignore-test-failures" in refused.stderr + refused.stdout
    assert sandbox.uploads() == []

    forced = _run(
        user_venv,
        project,
        "spotify-audiences",
        "sync",
        "--json",
        "--ignore-test-failures",
        env=env,
    )
    assert forced.returncode == 0, _tail(forced)
    assert {r["action"] for r in _by_name(forced.stdout).values()} == {"created"}
    with duckdb.connect(str(database), read_only=True) as connection:
        flags = connection.execute(
            "select distinct ignored_test_failures from main.spotify_audience_sync_log "
            "where action = 'created'"
        ).fetchall()
    assert flags == [(True,)]


def test_the_same_project_on_fakesnow_syncs_through_the_cli_snowflake_path(
    user_venv, project, sandbox, tmp_path
):
    from snowflake_helpers import fakesnow_server

    with fakesnow_server() as server:
        env = {
            **_spotify_env(sandbox, tmp_path / "unused.duckdb"),
            "FAKESNOW_PORT": str(server.port),
            "FAKESNOW_SCHEMA": "FROM_PIP",
        }
        built = _run(user_venv, project, "dbt", "build", "--target", "fakesnow", env=env)
        assert built.returncode == 0, _tail(built)
        synced = _run(
            user_venv,
            project,
            "spotify-audiences",
            "sync",
            "--target",
            "fakesnow",
            "--json",
            env=env,
        )
        assert synced.returncode == 0, _tail(synced)
        assert {r["action"] for r in _by_name(synced.stdout).values()} == {"created"}
        _assert_uploaded(sandbox, _expected(tmp_path))
        logged = server.query(
            "select audience_name, ad_account_id, action "
            "from ACME.FROM_PIP.SPOTIFY_AUDIENCE_SYNC_LOG"
        )
    assert sorted(tuple(r) for r in logged) == sorted(
        (n, a, action) for n, a in ACCOUNTS.items() for action in ("created", "pending")
    )
