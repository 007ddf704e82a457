"""Opt-in: the Snowflake path against a real account, skipped unless its variables are set.

Set the SNOWFLAKE_* variables of .env.example (and a key or password). The build goes to its
own schema, ``<SNOWFLAKE_SCHEMA>_LIVE_TEST`` (or SPOTIFY_AUDIENCES_LIVE_SCHEMA), which the test
drops afterwards; the procedure test runs only where `snowflake-setup --apply` created it (with
``--mart-schema <database>.<live schema>`` on its allow-list), and only as a dry run, so nothing
is ever sent to Spotify. `spotify-audiences doctor` runs against the same account.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections import Counter, defaultdict

import pytest
from members_factory import write_members
from oracle import expected
from support import BIN, ROOT

pytestmark = pytest.mark.live

REQUIRED = (
    "SNOWFLAKE_ACCOUNT",
    "SNOWFLAKE_USER",
    "SNOWFLAKE_ROLE",
    "SNOWFLAKE_WAREHOUSE",
    "SNOWFLAKE_DATABASE",
    "SNOWFLAKE_SCHEMA",
)
CREDENTIALS = (
    "SNOWFLAKE_PRIVATE_KEY_PATH",
    "DBT_ENV_SECRET_SNOWFLAKE_PRIVATE_KEY",
    "DBT_ENV_SECRET_SNOWFLAKE_PASSWORD",
    "SNOWFLAKE_AUTHENTICATOR",
)
MISSING = [name for name in REQUIRED if not os.environ.get(name)]
if not any(os.environ.get(name) for name in CREDENTIALS):
    MISSING.append("one of " + "/".join(CREDENTIALS))
if MISSING:
    pytest.skip("live Snowflake tests: set " + ", ".join(MISSING), allow_module_level=True)

DATABASE = os.environ["SNOWFLAKE_DATABASE"]
LIVE_SCHEMA = os.environ.get(
    "SPOTIFY_AUDIENCES_LIVE_SCHEMA", os.environ["SNOWFLAKE_SCHEMA"] + "_LIVE_TEST"
)


@pytest.fixture(scope="module")
def connection():
    from spotify_audiences.snowflake.setup.commands import connect_with_profile

    with contextlib.closing(connect_with_profile(ROOT, ROOT, "snowflake")) as handle:
        yield handle


@pytest.fixture(scope="module")
def live_build(connection, tmp_path_factory):
    """Unseen members loaded as a CRM export would be, then `dbt build --target snowflake`."""
    workdir = tmp_path_factory.mktemp("live")
    members = write_members(workdir / "members.csv", seed=77, audiences={"Live Test": 1100})
    schema = f"{DATABASE}.{LIVE_SCHEMA}"
    table = f"{schema}.SPOTIFY_AUDIENCES_LIVE_MEMBERS"
    cursor = connection.cursor()
    cursor.execute(f"create schema if not exists {schema}")
    try:
        columns = members.read_text(encoding="utf-8").splitlines()[0].split(",")
        cursor.execute(
            f"create or replace table {table} ({', '.join(c + ' varchar' for c in columns)})"
        )
        cursor.execute(f"create or replace temporary stage {schema}.live_members")
        cursor.execute(
            f"put 'file://{members.resolve()}' @{schema}.live_members auto_compress = false"
        )
        cursor.execute(
            f"copy into {table} from @{schema}.live_members "
            "file_format = (type = csv skip_header = 1 field_optionally_enclosed_by = '\"')"
        )
        result = subprocess.run(
            [
                str(BIN / "dbt"),
                "build",
                "--target",
                "snowflake",
                "--profiles-dir",
                str(ROOT),
                "--project-dir",
                str(ROOT),
                "--target-path",
                str(workdir / "target"),
                "--log-path",
                str(workdir / "logs"),
                "--vars",
                json.dumps({"audience_members_relation": table}),
            ],
            cwd=ROOT,
            env={**os.environ, "SNOWFLAKE_SCHEMA": LIVE_SCHEMA},
            capture_output=True,
            text=True,
            timeout=1800,
        )
        yield members, schema, result
    finally:
        cursor.execute(f"drop schema if exists {schema}")


def test_live_build_hashes_exactly_what_the_oracle_expects(live_build, connection):
    members, schema, result = live_build
    assert result.returncode == 0, result.stdout[-6000:]
    want = expected(members)
    rows = connection.cursor().execute(
        f"select audience_name, identifier_type, identifier_sha256 "
        f"from {schema}.spotify_audience_identifiers"
    )
    got: dict[str, set] = defaultdict(set)
    for audience, kind, digest in rows:
        got[audience].add((kind, digest))
    assert {name: spec["members"] for name, spec in want.items()} == dict(got)


def test_live_procedure_dry_run_counts_the_same_identifiers(live_build, connection):
    members, schema, result = live_build
    assert result.returncode == 0
    procedure = f"{DATABASE}.{os.environ['SNOWFLAKE_SCHEMA']}.spotify_audiences_sync"
    found = (
        connection.cursor()
        .execute(
            f"show procedures like 'SPOTIFY_AUDIENCES_SYNC' in schema "
            f"{DATABASE}.{os.environ['SNOWFLAKE_SCHEMA']}"
        )
        .fetchall()
    )
    if not found:
        pytest.skip(f"{procedure} does not exist: run `spotify-audiences snowflake-setup --apply`")
    try:
        (row,) = (
            connection.cursor()
            .execute(f"call {procedure}(mart_schema => '{schema}', options => {{'dry_run': true}})")
            .fetchall()
        )
    except Exception as exc:
        if "may not read the mart schema" in str(exc):
            pytest.skip(f"add --mart-schema {schema} to the setup's allow-list to run this")
        raise
    results = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    want = expected(members)
    assert {r["audience_name"]: r["action"] for r in results} == {"Live Test": "dry_run"}
    counts = Counter(kind for kind, _ in want["Live Test"]["members"])
    assert results[0]["counts"] == dict(counts)


def test_live_doctor_answers_every_check(live_build):
    _members, _schema, result = live_build
    assert result.returncode == 0
    env = {**os.environ, "SNOWFLAKE_SCHEMA": LIVE_SCHEMA}
    doctor = subprocess.run(
        [
            str(BIN / "spotify-audiences"),
            "doctor",
            "--json",
            "--target",
            "snowflake",
            "--project-dir",
            str(ROOT),
            "--profiles-dir",
            str(ROOT),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(doctor.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["marts exist"]["status"] == "pass", checks["marts exist"]
    assert {c["status"] for c in report["checks"]} <= {"pass", "warn", "fail", "unknown"}
    for check in report["checks"]:
        if check["status"] == "fail":
            assert check["fix"], check
    assert doctor.returncode == (0 if report["ok"] else 1)
