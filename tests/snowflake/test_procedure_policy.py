"""The procedure's allow-list: callers cannot turn the owner's rights against the owner.

The handler registered here is the very source `snowflake-setup` writes into the procedure
(``procedure_handler_source``), run in Snowpark local testing on the marts dbt built on
fakesnow. "Not in local testing" is what the guard decides inside Snowflake; the tests switch
that one decision to see what a caller in a real account gets.
"""

from __future__ import annotations

import contextlib
import json

import pytest
from oracle import expected
from snowflake_helpers import SnowflakeRuntime, copy_marts

from spotify_audiences.snowflake import policy, procedure
from spotify_audiences.snowflake.setup.sql import SetupConfig, procedure_handler_source

SCHEMA = "SPOTIFY_AUDIENCES.AUDIENCES"
ALLOWED_ACCOUNT = "5ad0b0c5-a4db-40c5-8a4d-b0c5a4db0c5a"
OTHER_ACCOUNT = "f0bdd0e0-0000-4000-8000-00000000f0bd"


@pytest.fixture(scope="module")
def session(fakesnow, fakesnow_build):
    from snowflake.snowpark import Session
    from snowflake.snowpark.types import ArrayType, MapType, StringType, VariantType

    assert fakesnow_build.returncode == 0, fakesnow_build.stdout[-3000:]
    local = Session.builder.config("local_testing", True).create()
    copy_marts(fakesnow, fakesnow_build.mart_schema, local, SCHEMA)
    config = SetupConfig(
        database="SPOTIFY_AUDIENCES",
        schema="AUDIENCES",
        role="TRANSFORMER",
        warehouse="WH",
        ad_account_id=ALLOWED_ACCOUNT,
    )
    namespace: dict = {}
    exec(procedure_handler_source(config), namespace)  # noqa: S102 - the generated handler
    signature = [
        ArrayType(StringType()),
        StringType(),
        StringType(),
        MapType(StringType(), VariantType()),
    ]
    for name, handler in (
        ("SYNC_WITH_POLICY", namespace["sync"]),
        ("SYNC_WITHOUT_POLICY", procedure.sync_with_oauth_secret),
    ):
        local.sproc.register(
            handler,
            name=name,
            return_type=ArrayType(),
            input_types=signature,
            packages=["snowflake-snowpark-python", "requests"],
        )
    yield local
    local.close()


@pytest.fixture
def in_snowflake(monkeypatch):
    """The guard's view inside Snowflake: not Snowpark local testing."""
    monkeypatch.setattr(policy, "in_local_testing", lambda session: False)


@pytest.fixture
def runtime(sandbox, monkeypatch):
    fake = SnowflakeRuntime(sandbox.env())
    monkeypatch.setitem(__import__("sys").modules, "_snowflake", fake)
    return fake


def _as_list(value):
    return json.loads(value) if isinstance(value, str) else value


def _endpoints(sandbox, **extra):
    env = sandbox.env()
    return {
        "ads_api_url": env["SPOTIFY_ADS_API_URL"],
        "accounts_url": env["SPOTIFY_ACCOUNTS_URL"],
    } | extra


def test_defaults_are_the_allowed_schema_and_account(session, fakesnow_build, in_snowflake):
    want = expected(fakesnow_build.members_csv)
    results = _as_list(session.call("SYNC_WITH_POLICY", None, None, None, {"dry_run": True}))
    assert {r["audience_name"]: r["action"] for r in results} == dict.fromkeys(want, "dry_run")


def test_a_schema_outside_the_allow_list_is_refused_before_anything_is_read(session, in_snowflake):
    for schema in ("SPOTIFY_AUDIENCES.CRM", "OTHER_DB.AUDIENCES", "spotify_audiences.Secrets"):
        with pytest.raises(Exception, match="may not read the mart schema") as raised:
            session.call("SYNC_WITH_POLICY", None, schema, None, {"dry_run": True})
        assert "snowflake-setup" in str(raised.value)
    # the allowed schema, however it is spelled, is accepted
    session.call("SYNC_WITH_POLICY", None, "spotify_audiences.audiences", None, {"dry_run": True})


def test_an_ad_account_outside_the_allow_list_is_refused(session, in_snowflake):
    with pytest.raises(Exception, match="may not sync to the ad account"):
        session.call("SYNC_WITH_POLICY", None, None, OTHER_ACCOUNT, {"dry_run": True})
    config = {"audiences": {"Ski Season": {"ad_account_id": OTHER_ACCOUNT}}}
    with pytest.raises(Exception, match=r"'Ski Season'.*may not sync to the ad account"):
        session.call("SYNC_WITH_POLICY", None, None, None, {"dry_run": True, "config": config})


def test_endpoint_overrides_are_refused_in_snowflake_and_nothing_is_sent(
    session, sandbox, runtime, in_snowflake
):
    for option in ("ads_api_url", "accounts_url"):
        with pytest.raises(Exception, match="exist only in Snowpark local testing"):
            session.call(
                "SYNC_WITH_POLICY", ["Ski Season"], None, None, {option: sandbox.url + "/x"}
            )
    assert runtime.reads == [], "no secret was read"
    assert sandbox.requests() == []


def test_a_handler_without_an_allow_list_refuses_to_run_in_snowflake(session, in_snowflake):
    with pytest.raises(Exception, match="no allow-list"):
        session.call("SYNC_WITHOUT_POLICY", None, SCHEMA, ALLOWED_ACCOUNT, {"dry_run": True})


def test_in_local_testing_the_endpoints_point_at_the_sandbox_within_the_allow_list(
    session, sandbox, runtime
):
    account = sandbox.env()["SPOTIFY_AD_ACCOUNT_ID"]
    assert account == ALLOWED_ACCOUNT
    with contextlib.suppress(Exception):
        session.table(f"{SCHEMA}.SPOTIFY_AUDIENCE_SYNC_LOG").delete()
    (result,) = _as_list(
        session.call("SYNC_WITH_POLICY", ["Ski Season"], None, None, _endpoints(sandbox))
    )
    assert result["action"] in ("created", "replaced", "unchanged"), result
    with pytest.raises(Exception, match="may not read the mart schema"):
        session.call("SYNC_WITH_POLICY", None, "SPOTIFY_AUDIENCES.CRM", None, _endpoints(sandbox))
