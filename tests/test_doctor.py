"""`spotify-audiences doctor` on DuckDB against the sandbox: a checklist that changes nothing.

The marts come from the session's demo build, copied so that a test can add the build log the
package's on-run-end writes (or leave it out). Spotify is the sandbox with its fault injection:
revoked refresh tokens, 403s (the API-terms wording and the ad-account one) and unknown accounts.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import test_project_resolution
from support import ROOT, run_cli

from spotify_ads_sandbox import DEFAULT_FORBIDDEN_AD_ACCOUNT_ID

UNKNOWN_ACCOUNT = "0d0c7e5a-1111-4222-8333-944455556666"
# marts in a custom schema of a project with another profile name, built once by the real dbt
custom_project = test_project_resolution.custom_project


def _with_build_log(database: Path, *, failed: list[str] = (), at: datetime | None = None) -> None:
    at = at or datetime.now(UTC).replace(tzinfo=None)
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "create or replace table main.spotify_audience_build_log (invocation_id varchar, "
            "recorded_at timestamp, dbt_command varchar, target_name varchar, marts_built boolean, "
            "tests_run integer, tests_failed integer, failed_tests varchar)"
        )
        connection.execute(
            "insert into main.spotify_audience_build_log values (?, ?, 'build', 'local', true, "
            "40, ?, ?)",
            [
                "inv-1",
                at,
                len(failed),
                json.dumps([{"name": n, "status": "fail"} for n in failed]),
            ],
        )


def _without_build_log(database: Path) -> None:
    with duckdb.connect(str(database)) as connection:
        connection.execute("drop table if exists main.spotify_audience_build_log")


def _with_settings(database: Path, **by_audience: tuple[str | None, str | None]) -> None:
    """What a build writes into the summary from the var: ad account and audience id."""
    with duckdb.connect(str(database)) as connection:
        for name, (account, audience_id) in by_audience.items():
            connection.execute(
                "update main.spotify_audience_summary set ad_account_id = ?, audience_id = ? "
                "where audience_name = ?",
                [account, audience_id, name],
            )


@pytest.fixture
def database(demo_build, tmp_path) -> Path:
    copy = tmp_path / "audiences.duckdb"
    shutil.copy(demo_build.duckdb, copy)
    return copy


def _doctor(sandbox, database: Path, *args: str, project: Path = ROOT, **env: str):
    full = {
        **sandbox.env(),
        "SPOTIFY_AUDIENCES_DUCKDB": str(database),
        "SPOTIFY_AUDIENCES_TOKEN_FILE": str(database.parent / "no-token.json"),
        **env,
    }
    result = run_cli(
        "doctor", "--json", "--project-dir", str(project), "--profiles-dir", str(ROOT),
        "--target", "local", *args, env=full,
    )  # fmt: skip
    report = json.loads(result.stdout)
    return result, {c["name"]: c for c in report["checks"]}, report


def test_everything_in_place_passes_and_changes_nothing(sandbox, database):
    _with_build_log(database)
    before = hashlib.sha256(database.read_bytes()).hexdigest()

    result, checks, report = _doctor(sandbox, database)

    assert result.returncode == 0, json.dumps(report, indent=1)
    assert report["ok"] is True
    assert {c["status"] for c in checks.values()} == {"pass"}
    for name in (
        "credentials present",
        "token refresh works",
        "Ads API terms accepted",
        "marts exist",
        "marts are fresh",
        "last build's tests passed",
    ):
        assert name in checks, name
    account = sandbox.env()["SPOTIFY_AD_ACCOUNT_ID"]
    assert f"ad account {account}: exists, visible, audience permission" in checks
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    assert sandbox.list_audiences() == []
    assert {(r["method"], r["path"].split("/audiences")[0][-6:]) for r in sandbox.requests()} <= {
        ("POST", "/api/token"[-6:]),
        ("GET", account[-6:]),
    }
    assert not [r for r in sandbox.requests() if r["method"] not in ("GET", "POST")]
    assert [r["path"] for r in sandbox.requests() if r["method"] == "POST"] == ["/api/token"]


def test_human_output_has_a_fix_under_each_failure(sandbox, database):
    _without_build_log(database)
    sandbox.revoke_refresh_token()
    full = {**sandbox.env(), "SPOTIFY_AUDIENCES_DUCKDB": str(database)}
    result = run_cli("doctor", "--project-dir", str(ROOT), "--profiles-dir", str(ROOT), env=full)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    failed = [i for i, line in enumerate(lines) if line.strip().startswith("✗")]
    assert failed
    for index in failed:
        assert lines[index + 1].strip().startswith("fix: "), lines[index]
    assert any("✓ marts exist" in line for line in lines)
    assert any(line.strip().startswith("?") and "cannot verify here" in line for line in lines)


def test_a_revoked_refresh_token_fails_with_the_login_fix(sandbox, database):
    _with_build_log(database)
    sandbox.revoke_refresh_token()
    result, checks, _ = _doctor(sandbox, database)
    assert result.returncode == 1
    refresh = checks["token refresh works"]
    assert refresh["status"] == "fail"
    assert "revoked" in refresh["detail"]
    assert "spotify-audiences login" in refresh["fix"]


def test_api_terms_403_is_told_apart_from_a_missing_permission(sandbox, database):
    _with_build_log(database)
    sandbox.inject(
        {
            "kind": "status",
            "status": 403,
            "method": "GET",
            "path": "/audiences$",
            "message": "The Ads API terms have not been accepted for this client",
            "times": None,
        }
    )
    result, checks, _ = _doctor(sandbox, database)
    assert result.returncode == 1
    terms = checks["Ads API terms accepted"]
    assert terms["status"] == "fail"
    assert "adsmanager.spotify.com/api-terms" in terms["fix"]

    sandbox.clear_faults()
    result, checks, _ = _doctor(
        sandbox, database, SPOTIFY_AD_ACCOUNT_ID=DEFAULT_FORBIDDEN_AD_ACCOUNT_ID
    )
    assert result.returncode == 1
    permission = checks[f"ad account {DEFAULT_FORBIDDEN_AD_ACCOUNT_ID}: audience permission"]
    assert permission["status"] == "fail"
    assert "audience management permission" in permission["fix"]
    assert checks["Ads API terms accepted"]["status"] == "unknown"


def test_every_configured_account_and_audience_id_is_checked(sandbox, database):
    _with_build_log(database)
    account = sandbox.env()["SPOTIFY_AD_ACCOUNT_ID"]
    missing_id = "6f7e0d3a-0000-4000-8000-000000000001"
    # as the build resolves spotify_audiences_config into the summary's settings columns
    _with_settings(
        database,
        **{
            "Podcast Superfans": (None, missing_id),
            "Lapsed Premium Listeners": (UNKNOWN_ACCOUNT, None),
        },
    )
    result, checks, _ = _doctor(sandbox, database)
    assert result.returncode == 1
    assert checks[f"ad account {account}: exists, visible, audience permission"]["status"] == "pass"
    unknown = checks[f"ad account {UNKNOWN_ACCOUNT}"]
    assert unknown["status"] == "fail" and "does not exist" in unknown["detail"]
    audience = checks[f"audience 'Podcast Superfans' id {missing_id}"]
    assert audience["status"] == "fail"
    assert "audience_id" in audience["fix"]
    assert audience["detail"] == f"not in ad account {account}", "the env's account, as the sync"


def test_an_audience_without_an_ad_account_fails_as_the_sync_would(sandbox, database):
    _with_build_log(database)
    _with_settings(database, **{"Podcast Superfans": (UNKNOWN_ACCOUNT, None)})
    result, checks, _ = _doctor(sandbox, database, SPOTIFY_AD_ACCOUNT_ID="")
    assert result.returncode == 1
    configured = checks["ad account configured"]
    assert configured["status"] == "fail"
    assert "'Lapsed Premium Listeners'" in configured["detail"]
    assert "'Podcast Superfans'" not in configured["detail"]
    assert "SPOTIFY_AD_ACCOUNT_ID" in configured["fix"]
    assert f"ad account {UNKNOWN_ACCOUNT}" in checks, "the named account is still checked"


def test_failed_tests_and_a_missing_build_log(sandbox, database):
    _without_build_log(database)
    result, checks, _ = _doctor(sandbox, database)
    assert result.returncode == 1, "a check that cannot be verified is not a pass"
    assert checks["last build's tests passed"]["status"] == "unknown"
    assert "cannot verify here" in checks["last build's tests passed"]["detail"]

    _with_build_log(database, failed=["unique_spotify_audience_identifiers_hash"])
    result, checks, _ = _doctor(sandbox, database)
    tests = checks["last build's tests passed"]
    assert (result.returncode, tests["status"]) == (1, "fail")
    assert "unique_spotify_audience_identifiers_hash" in tests["detail"]


def test_stale_marts_fail(sandbox, database):
    _with_build_log(database, at=datetime.now(UTC).replace(tzinfo=None) - timedelta(days=3650))
    result, checks, _ = _doctor(sandbox, database)
    assert result.returncode == 1
    assert checks["marts are fresh"]["status"] == "fail"
    assert checks["marts are fresh"]["fix"] == "Run `dbt build`."


def test_refresh_token_age_warns_in_its_last_month(sandbox, database, tmp_path):
    _with_build_log(database)
    token_file = tmp_path / "token.json"
    obtained = (datetime.now(UTC) - timedelta(days=160)).isoformat(timespec="seconds")
    # as `login` writes it: the authorization date counts, not the last save (a rotation)
    token_file.write_text(
        json.dumps(
            {
                "refresh_token": sandbox.env()["SPOTIFY_REFRESH_TOKEN"],
                "obtained_at": obtained,
                "saved_at": time.time(),
            }
        )
    )
    token_file.chmod(0o600)
    env = {k: v for k, v in sandbox.env().items() if k != "SPOTIFY_REFRESH_TOKEN"}
    full = {
        **env,
        "SPOTIFY_AUDIENCES_DUCKDB": str(database),
        "SPOTIFY_AUDIENCES_TOKEN_FILE": str(token_file),
    }
    result = run_cli(
        "doctor", "--json", "--project-dir", str(ROOT), "--profiles-dir", str(ROOT), env=full
    )
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    age = checks["refresh token age"]
    assert age["status"] == "warn" and "160 days" in age["detail"]
    assert result.returncode == 0, "a warning passes"


def test_marts_in_a_custom_schema_are_found_with_their_build_log(custom_project, sandbox, tmp_path):
    """The project of tests/test_project_resolution.py: another profile name, marts in
    ``main_marts`` (``+schema: marts``), built by the real dbt with its on-run-end."""
    project, built, _ = custom_project
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(built, database)

    def doctor() -> tuple[object, dict]:
        env = {**sandbox.env(), "SPOTIFY_AUDIENCES_DUCKDB": str(database)}
        env["SPOTIFY_AUDIENCES_TOKEN_FILE"] = str(tmp_path / "no-token.json")
        result = run_cli(
            "doctor", "--json", "--project-dir", str(project), env=env, cwd=tmp_path
        )  # fmt: skip
        return result, {c["name"]: c for c in json.loads(result.stdout)["checks"]}

    result, checks = doctor()
    assert checks["marts exist"]["status"] == "pass", checks["marts exist"]
    assert "main_marts" in checks["marts exist"]["detail"]
    assert checks["last build's tests passed"]["status"] == "pass"
    account = sandbox.env()["SPOTIFY_AD_ACCOUNT_ID"]
    assert checks[f"ad account {account}: exists, visible, audience permission"]["status"] == "pass"

    with duckdb.connect(str(database)) as connection:
        assert connection.execute(
            "select table_schema from information_schema.tables "
            "where table_name = 'spotify_audience_build_log'"
        ).fetchall() == [("main_marts",)]
        connection.execute(
            "insert into main_marts.spotify_audience_build_log values ('inv-2', ?, 'test', "
            "'local', false, 3, 1, ?)",
            [
                datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=1),
                json.dumps([{"name": "not_null_crm_fans_email", "status": "fail"}]),
            ],
        )
    result, checks = doctor()
    assert result.returncode == 1
    tests = checks["last build's tests passed"]
    assert tests["status"] == "fail" and "not_null_crm_fans_email" in tests["detail"]
