"""The sync procedure's handlers in Snowpark local testing, against the sandbox over loopback.

The handlers run as a registered stored procedure (``session.sproc.register`` and
``session.call``) on tables holding the marts that dbt built on fakesnow; ``_snowflake`` is the
stand-in of ``snowflake_helpers.SnowflakeRuntime``. What Spotify receives is compared with the
test oracle's hashes of the raw members.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from datetime import datetime

import pytest
from oracle import expected
from snowflake_helpers import SnowflakeRuntime, copy_marts

from spotify_audiences.snowflake import procedure
from spotify_audiences.sync import AudienceResult

SCHEMA = "SPOTIFY_AUDIENCES.AUDIENCES"
LEDGER = (
    "SPOTIFY_AUDIENCE_SYNC_LOG",
    "SPOTIFY_AUDIENCE_UPLOADED_HASHES",
    "SPOTIFY_AUDIENCE_STATUS",
)


@pytest.fixture(scope="module")
def snowpark(fakesnow, fakesnow_build):
    """A local-testing session holding the marts of the fakesnow build."""
    from snowflake.snowpark import Session
    from snowflake.snowpark.types import ArrayType, MapType, StringType, VariantType

    assert fakesnow_build.returncode == 0, fakesnow_build.stdout[-3000:]
    session = Session.builder.config("local_testing", True).create()
    copy_marts(fakesnow, fakesnow_build.mart_schema, session, SCHEMA)
    # the SQL signature: audiences array, mart_schema varchar, ad_account_id varchar, options object
    signature = [
        ArrayType(StringType()),
        StringType(),
        StringType(),
        MapType(StringType(), VariantType()),
    ]
    for name, handler in (
        ("SYNC_OAUTH", procedure.sync_with_oauth_secret),
        ("SYNC_GENERIC", procedure.sync_with_generic_secrets),
    ):
        session.sproc.register(
            handler,
            name=name,
            return_type=ArrayType(),
            input_types=signature,
            packages=["snowflake-snowpark-python", "requests"],
            external_access_integrations=["SPOTIFY_AUDIENCES_EGRESS"],
        )
    yield session
    session.close()


@pytest.fixture(autouse=True)
def empty_ledger(snowpark):
    """Each test starts with no sync history (the sandbox is new for each test too)."""
    for table in LEDGER:
        with contextlib.suppress(Exception):  # not created yet
            snowpark.table(f"{SCHEMA}.{table}").delete()


@pytest.fixture
def runtime(sandbox, monkeypatch):
    """``_snowflake`` for the handlers, with credentials of the sandbox."""
    fake = SnowflakeRuntime(sandbox.env())
    monkeypatch.setitem(__import__("sys").modules, "_snowflake", fake)
    return fake


def _endpoints(sandbox, **extra):
    env = sandbox.env()
    return {
        "ads_api_url": env["SPOTIFY_ADS_API_URL"],
        "accounts_url": env["SPOTIFY_ACCOUNTS_URL"],
    } | extra


def _as_list(value):
    return json.loads(value) if isinstance(value, str) else value


def test_oauth_secret_procedure_syncs_the_mart_then_replaces_the_same_audiences(
    snowpark, sandbox, runtime, fakesnow_build
):
    want = expected(fakesnow_build.members_csv)
    account = sandbox.env()["SPOTIFY_AD_ACCOUNT_ID"]

    first = _as_list(snowpark.call("SYNC_OAUTH", None, SCHEMA, account, _endpoints(sandbox)))

    assert {r["audience_name"] for r in first} == set(want)
    assert set(first[0]) == {f.name for f in dataclasses.fields(AudienceResult)}
    for result in first:
        assert result["action"] == "created", result
        members = sandbox.audience_members(result["audience_id"])
        assert members == want[result["audience_name"]]["members"]
        assert sum(result["counts"].values()) == len(members)
    assert set(runtime.reads) == {"spotify_oauth"}, "only the OAuth secret is read"

    unchanged = _as_list(
        snowpark.call("SYNC_OAUTH", ["Ski Season"], SCHEMA, account, _endpoints(sandbox))
    )
    assert [(r["audience_name"], r["action"]) for r in unchanged] == [("Ski Season", "unchanged")]

    forced = _as_list(
        snowpark.call(
            "SYNC_OAUTH", ["Ski Season"], SCHEMA, account, _endpoints(sandbox, force=True)
        )
    )
    assert [(r["audience_name"], r["action"]) for r in forced] == [("Ski Season", "replaced")]
    created = {r["audience_name"]: r["audience_id"] for r in first}
    assert forced[0]["audience_id"] == created["Ski Season"]
    assert len(sandbox.list_audiences()) == len(want)


def test_procedure_writes_the_ledger_beside_the_marts(snowpark, sandbox, runtime, fakesnow_build):
    want = expected(fakesnow_build.members_csv)
    account = sandbox.env()["SPOTIFY_AD_ACCOUNT_ID"]

    (result,) = _as_list(
        snowpark.call("SYNC_OAUTH", ["Snowfall Fans"], SCHEMA, account, _endpoints(sandbox))
    )

    log = sorted(
        snowpark.table(f"{SCHEMA}.SPOTIFY_AUDIENCE_SYNC_LOG").collect(),
        key=lambda r: r["ACTION"] != "pending",
    )
    # the intent, written before the upload, then the outcome
    assert [(r["AUDIENCE_NAME"], r["ACTION"]) for r in log] == [
        ("Snowfall Fans", "pending"),
        ("Snowfall Fans", "created"),
    ]
    assert log[1]["AUDIENCE_ID"] == result["audience_id"]
    assert {r["FINGERPRINT"] for r in log} == {result["sha256"]}
    assert {r["AD_ACCOUNT_ID"] for r in log} == {account}
    uploaded = snowpark.table(f"{SCHEMA}.SPOTIFY_AUDIENCE_UPLOADED_HASHES").collect()
    assert {(r["IDENTIFIER_TYPE"], r["IDENTIFIER_SHA256"]) for r in uploaded} == (
        want["Snowfall Fans"]["members"]
    )
    (dry,) = _as_list(
        snowpark.call("SYNC_OAUTH", ["Snowfall Fans"], SCHEMA, account, {"dry_run": True})
    )
    assert (dry["action"], dry["added"], dry["removed"]) == ("dry_run", 0, 0)


def test_generic_secrets_procedure_runs_the_projects_own_refresh(
    snowpark, sandbox, runtime, fakesnow_build
):
    want = expected(fakesnow_build.members_csv)
    account = sandbox.env()["SPOTIFY_AD_ACCOUNT_ID"]

    results = _as_list(
        snowpark.call("SYNC_GENERIC", ["Snowfall Fans"], SCHEMA, account, _endpoints(sandbox))
    )

    assert [r["action"] for r in results] == ["created"]
    assert sandbox.audience_members(results[0]["audience_id"]) == want["Snowfall Fans"]["members"]
    assert set(runtime.reads) == {
        "spotify_client_id",
        "spotify_client_secret",
        "spotify_refresh_token",
    }


def test_a_refused_audience_fails_the_call_with_the_summary(snowpark, sandbox, runtime):
    account = sandbox.env()["SPOTIFY_AD_ACCOUNT_ID"]
    options = _endpoints(sandbox, min_identifiers=10**9)

    with pytest.raises(Exception, match="did not sync") as raised:
        snowpark.call("SYNC_OAUTH", ["Ski Season"], SCHEMA, account, options)
    assert '"action": "refused"' in str(raised.value)

    options["raise_on_failure"] = False
    results = _as_list(snowpark.call("SYNC_OAUTH", ["Ski Season"], SCHEMA, account, options))
    assert results[0]["action"] == "refused"
    assert results[0]["exit_code"] == 3
    assert sandbox.list_audiences() == []


def test_dry_run_reads_no_secret_and_sends_nothing(snowpark, sandbox, monkeypatch, fakesnow_build):
    runtime = SnowflakeRuntime(sandbox.env(), bound=set())
    monkeypatch.setitem(__import__("sys").modules, "_snowflake", runtime)
    want = expected(fakesnow_build.members_csv)

    results = _as_list(snowpark.call("SYNC_OAUTH", None, SCHEMA, None, {"dry_run": True}))

    assert {r["audience_name"]: r["action"] for r in results} == dict.fromkeys(want, "dry_run")
    for result in results:
        assert sum(result["counts"].values()) == len(want[result["audience_name"]]["members"])
        assert result["file"] is None
    assert runtime.reads == []
    assert sandbox.requests() == []


def test_status_option_writes_status_rows_beside_the_ledger(snowpark, sandbox, runtime):
    account = sandbox.env()["SPOTIFY_AD_ACCOUNT_ID"]
    (synced,) = _as_list(
        snowpark.call("SYNC_OAUTH", ["Ski Season"], SCHEMA, account, _endpoints(sandbox))
    )

    rows = _as_list(
        snowpark.call("SYNC_OAUTH", None, SCHEMA, account, _endpoints(sandbox, status=True))
    )

    assert [(r["audience_name"], r["audience_id"]) for r in rows] == [
        ("Ski Season", synced["audience_id"])
    ]
    assert rows[0]["status"] in ("PROCESSING", "BOOKABLE", "EMPTY")
    stored = snowpark.table(f"{SCHEMA}.SPOTIFY_AUDIENCE_STATUS").collect()
    assert [(r["AUDIENCE_ID"], r["STATUS"]) for r in stored] == [
        (synced["audience_id"], rows[0]["status"])
    ]


GATED = "SPOTIFY_AUDIENCES.GATED"


@pytest.fixture
def gated(snowpark, fakesnow, fakesnow_build):
    """The marts in a schema of their own, with a build log whose last build failed a test."""
    from snowflake.snowpark.types import (
        BooleanType,
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    copy_marts(fakesnow, fakesnow_build.mart_schema, snowpark, GATED)
    for table in LEDGER:
        with contextlib.suppress(Exception):
            snowpark.table(f"{GATED}.{table}").delete()
    schema = StructType(
        [
            StructField("INVOCATION_ID", StringType()),
            StructField("RECORDED_AT", TimestampType()),
            StructField("DBT_COMMAND", StringType()),
            StructField("TARGET_NAME", StringType()),
            StructField("MARTS_BUILT", BooleanType()),
            StructField("TESTS_RUN", LongType()),
            StructField("TESTS_FAILED", LongType()),
            StructField("FAILED_TESTS", StringType()),
        ]
    )
    failed = json.dumps([{"name": "not_null_crm_snowfall_email", "status": "fail"}])
    rows = [
        ["old", datetime(2026, 1, 1, 6), "build", "prod", True, 30, 0, "[]"],
        ["new", datetime(2026, 1, 2, 6), "build", "prod", True, 30, 1, failed],
    ]
    snowpark.create_dataframe(rows, schema=schema).write.save_as_table(
        f"{GATED}.SPOTIFY_AUDIENCE_BUILD_LOG", mode="overwrite"
    )
    return GATED


def test_procedure_refuses_after_failed_tests_unless_told(snowpark, sandbox, runtime, gated):
    account = sandbox.env()["SPOTIFY_AD_ACCOUNT_ID"]

    with pytest.raises(Exception, match="not_null_crm_snowfall_email") as raised:
        snowpark.call("SYNC_OAUTH", ["Ski Season"], gated, account, _endpoints(sandbox))
    assert "ignore_test_failures" in str(raised.value)
    assert sandbox.requests() == []

    (ignored,) = _as_list(
        snowpark.call(
            "SYNC_OAUTH",
            ["Ski Season"],
            gated,
            account,
            _endpoints(sandbox, ignore_test_failures=True),
        )
    )
    assert ignored["action"] == "created"
    (hooked,) = _as_list(
        snowpark.call(
            "SYNC_OAUTH", ["Snowfall Fans"], gated, account, _endpoints(sandbox, test_gate=False)
        )
    )
    assert hooked["action"] == "created"
    log = snowpark.table(f"{gated}.SPOTIFY_AUDIENCE_SYNC_LOG").collect()
    assert {(r["AUDIENCE_NAME"], r["IGNORED_TEST_FAILURES"]) for r in log} == {
        ("Ski Season", True),
        ("Snowfall Fans", None),
    }


def test_procedure_syncs_each_audience_to_the_account_the_build_recorded(
    snowpark, fakesnow, fakesnow_build, monkeypatch
):
    from snowflake.snowpark.functions import col, lit, when

    second = "0d5e7a1b-3c2d-4e5f-8a9b-1c2d3e4f5a6b"
    schema = "SPOTIFY_AUDIENCES.ACCOUNTS"
    copy_marts(fakesnow, fakesnow_build.mart_schema, snowpark, schema)
    for table in LEDGER:
        with contextlib.suppress(Exception):
            snowpark.table(f"{schema}.{table}").delete()
    summary = snowpark.table(f"{schema}.SPOTIFY_AUDIENCE_SUMMARY")
    summary.with_column(
        "AD_ACCOUNT_ID",
        when(col("AUDIENCE_NAME") == lit("Ski Season"), lit(second)).otherwise(lit(None)),
    ).cache_result().write.save_as_table(f"{schema}.SPOTIFY_AUDIENCE_SUMMARY", mode="overwrite")

    from spotify_ads_sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(other_ad_account_ids=(second,)), port=0) as sandbox:
        monkeypatch.setitem(
            __import__("sys").modules, "_snowflake", SnowflakeRuntime(sandbox.env())
        )
        default = sandbox.env()["SPOTIFY_AD_ACCOUNT_ID"]
        results = _as_list(snowpark.call("SYNC_OAUTH", None, schema, default, _endpoints(sandbox)))

        assert {r["audience_name"]: r["ad_account_id"] for r in results} == {
            "Ski Season": second,
            "Snowfall Fans": default,
        }
        assert [a["name"] for a in sandbox.list_audiences(second)] == ["Ski Season"]
        assert [a["name"] for a in sandbox.list_audiences(default)] == ["Snowfall Fans"]
        want = expected(fakesnow_build.members_csv)
        for result in results:
            members = sandbox.audience_members(result["audience_id"])
            assert members == want[result["audience_name"]]["members"]
        log = snowpark.table(f"{schema}.SPOTIFY_AUDIENCE_SYNC_LOG").collect()
        assert {(r["AUDIENCE_NAME"], r["AD_ACCOUNT_ID"]) for r in log} == {
            ("Ski Season", second),
            ("Snowfall Fans", default),
        }


def test_snowpark_ledger_of_an_older_version_gains_the_new_column(snowpark):
    from snowflake.snowpark.types import StructType

    from spotify_audiences.snowflake.ledger import SnowparkLedger, _schema

    schema = "SPOTIFY_AUDIENCES.OLD_LEDGER"
    # the sync log as the previous version wrote it: without the columns added since
    added = {"IGNORED_TEST_FAILURES", "SUPPRESSED"}
    old = StructType(
        [f for f in _schema("spotify_audience_sync_log").fields if f.name.upper() not in added]
    )
    row = ["r1", None, None, "A", None, "created"] + [None] * (len(old.fields) - 6)
    snowpark.create_dataframe([row], schema=old).write.save_as_table(
        f"{schema}.SPOTIFY_AUDIENCE_SYNC_LOG", mode="overwrite"
    )

    SnowparkLedger(snowpark, schema)

    table = snowpark.table(f"{schema}.SPOTIFY_AUDIENCE_SYNC_LOG")
    assert added <= set(table.columns)
    assert [
        (r["RUN_ID"], r["IGNORED_TEST_FAILURES"], r["SUPPRESSED"]) for r in table.collect()
    ] == [("r1", None, None)]
