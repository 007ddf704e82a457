"""This repository as a dbt package, installed into a dbt project of its own as a user would.

tests/consumer_project is that project: its own name, profile, seed and two audience models,
no copy of this repository's models; ``packages.yml`` installs this repository with ``local:``.
Real ``dbt deps``, ``dbt parse``, ``dbt ls`` and ``dbt build`` on DuckDB and on the snowflake
adapter against fakesnow; the expected hashes are computed here from the seed.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest
import yaml
from members_factory import write_members
from oracle import expected
from support import BIN, ROOT

CONSUMER = ROOT / "tests" / "consumer_project"
PACKAGE = "spotify_audiences"
MARTS = ("spotify_audience_identifiers", "spotify_audience_rejects", "spotify_audience_summary")
# What the consumer's audience models select from the seed: the segment, and the seed column
# behind each member column (tests/consumer_project/models/crm/*.sql).
AUDIENCE_MODELS = {
    "Lapsed Premium Listeners": (
        "lapsed_premium",
        {"email": "email", "phone": "phone", "phone_country": "phone_country"},
    ),
    "Podcast Superfans": (
        "podcast_superfan",
        {"email": "email", "device_id": "device_id", "email_sha256": "hashed_email"},
    ),
}
FAILING_TEST = "not_null_crm_lapsed_premium_phone"


def run_dbt(
    project: Path, workdir: Path, *args: str, target: str = "dev", env: dict | None = None
) -> subprocess.CompletedProcess:
    """A real dbt command in the consumer project; output and the DuckDB file in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SPOTIFY_")}
    full_env.update({"ACME_DUCKDB": str(workdir / "acme.duckdb"), **(env or {})})
    command = [
        str(BIN / "dbt"),
        *args,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target",
        target,
        "--log-path",
        str(workdir / "logs"),
    ]
    if args[0] != "deps":
        command += ["--target-path", str(workdir / "target")]
    return subprocess.run(
        command, cwd=project, env=full_env, capture_output=True, text=True, timeout=900
    )


def seed_and_run(project: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """`dbt seed` into a fresh database, then `dbt run` with ``args``."""
    seeded = run_dbt(project, workdir, "seed")
    assert seeded.returncode == 0, _output(seeded)
    return run_dbt(project, workdir, "run", *args)


def _output(result: subprocess.CompletedProcess) -> str:
    return (result.stdout + result.stderr)[-6000:]


def _flat(text: str) -> str:
    """dbt wraps long messages; compare them on one line."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def consumer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The consumer project copied out of the repository, with this repository installed."""
    project = tmp_path_factory.mktemp("consumer") / "acme_marketing"
    shutil.copytree(
        CONSUMER,
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "package-lock.yml"),
    )
    packages = yaml.safe_load((project / "packages.yml").read_text())
    assert packages["packages"] == [{"local": "../.."}]
    packages["packages"] = [{"local": str(ROOT)}]
    (project / "packages.yml").write_text(yaml.safe_dump(packages))
    result = run_dbt(project, project.parent / "deps", "deps")
    assert result.returncode == 0, _output(result)
    assert (project / "dbt_packages" / PACKAGE / "dbt_project.yml").exists()
    return project


@pytest.fixture(scope="module")
def duckdb_build(consumer: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dbt build` of the consumer on DuckDB; returns its work directory."""
    workdir = tmp_path_factory.mktemp("consumer-duckdb")
    result = run_dbt(consumer, workdir, "build")
    assert result.returncode == 0, _output(result)
    return workdir


def _query(workdir: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(workdir / "acme.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def _expected(tmp_path: Path) -> dict[str, dict]:
    """The oracle's hashes and rejects per audience, from the seed filtered as the models do."""
    members = tmp_path / "expected_members.csv"
    with open(CONSUMER / "seeds" / "crm_customers.csv", newline="", encoding="utf-8") as fh:
        customers = list(csv.DictReader(fh))
    with open(members, "w", newline="", encoding="utf-8") as fh:
        columns = ["audience_name", "email", "phone", "phone_country", "device_id", "email_sha256"]
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        for audience, (segment, selected) in AUDIENCE_MODELS.items():
            for customer in customers:
                if customer["segment"] == segment:
                    row = {column: customer[source] for column, source in selected.items()}
                    writer.writerow({"audience_name": audience, **row})
    return expected(members)


def _marts(rows_of) -> tuple[dict[str, set], dict[str, Counter]]:
    members: dict[str, set] = defaultdict(set)
    for audience, kind, digest in rows_of(
        "select audience_name, identifier_type, identifier_sha256 from {schema}"
        ".spotify_audience_identifiers"
    ):
        members[audience].add((kind, digest))
    rejected: dict[str, Counter] = defaultdict(Counter)
    for audience, kind, count in rows_of(
        "select audience_name, identifier_type, rejected_count from {schema}"
        ".spotify_audience_rejects"
    ):
        rejected[audience][kind] += count
    return dict(members), {name: dict(counts) for name, counts in rejected.items()}


def _settings_of_the_var() -> dict[str, dict]:
    """The var of the consumer's dbt_project.yml, resolved as the docs say."""
    project = yaml.safe_load((CONSUMER / "dbt_project.yml").read_text())
    config = project["vars"]["spotify_audiences_config"]
    defaults = {
        "ad_account_id": None,
        "description": None,
        "min_identifiers": 1000,
        "max_shrink": 0.5,
        "max_rejected_share": 0.2,
        **config.get("defaults", {}),
    }
    resolved = {}
    for name, own in config["audiences"].items():
        settings = {**defaults, "audience_id": None}
        settings.update({k: v for k, v in own.items() if k != "model"})
        resolved[name] = settings
    return resolved


def test_marts_hold_exactly_the_hashes_of_each_audience_model(duckdb_build, tmp_path):
    want = _expected(tmp_path)
    members, rejected = _marts(
        lambda sql: _query(duckdb_build, sql.format(schema="main")),
    )
    assert set(members) == set(AUDIENCE_MODELS)
    for name, spec in want.items():
        assert len(spec["members"]) >= 1000, "each audience is large enough to be synced"
        assert members[name] == spec["members"]
        assert rejected.get(name, {}) == dict(spec["rejected"])


def test_summary_holds_each_audiences_settings_from_the_var(duckdb_build):
    columns = (
        "ad_account_id",
        "audience_id",
        "description",
        "min_identifiers",
        "max_shrink",
        "max_rejected_share",
    )
    rows = _query(
        duckdb_build,
        f"select audience_name, {', '.join(columns)} from main.spotify_audience_summary",
    )
    got = {row[0]: dict(zip(columns, row[1:], strict=True)) for row in rows}
    assert got == _settings_of_the_var()
    accounts = {settings["ad_account_id"] for settings in got.values()}
    assert len(accounts) == 2, "two audiences, two ad accounts"


def test_lineage_puts_the_audience_models_upstream_of_the_marts(consumer, tmp_path):
    result = run_dbt(
        consumer,
        tmp_path,
        "ls",
        "--select",
        "+spotify_audience_identifiers",
        "--resource-type",
        "model",
        "--output",
        "name",
        "--quiet",
    )
    assert result.returncode == 0, _output(result)
    listed = set(result.stdout.split())
    assert {"crm_lapsed_premium", "crm_podcast_superfans", "stg_audience_members"} <= listed
    assert "crm_segment_sizes" not in listed


@pytest.mark.parametrize("target", ["dev", "fakesnow"])
def test_parse_is_quiet_and_has_no_demo_node(consumer, tmp_path, target):
    result = run_dbt(
        consumer, tmp_path, "parse", "--no-partial-parse", "--show-all-deprecations", target=target
    )
    assert result.returncode == 0, _output(result)
    output = result.stdout + result.stderr
    assert not re.search(r"\bWARN(ING)?\b", output), output[-4000:]
    assert "Deprecat" not in output, output[-4000:]

    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    assert manifest["sources"] == {}, "no single-relation input is configured here"
    assert manifest["exposures"] == {}, "the demo's exposures are not the user's"
    assert "demo_audience_members" not in json.dumps(manifest)
    package_models = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["package_name"] == PACKAGE and node["resource_type"] == "model"
    }
    assert package_models == {
        "stg_audience_members",
        "stg_audience_suppressions",
        "int_audience_identifiers_unpivoted",
        "int_audience_suppressions_unpivoted",
        "int_audience_phones_normalized",
        "int_audience_identifiers_normalized",
        *MARTS,
        "spotify_audience_sync",
    }
    for mart in MARTS:
        node = manifest["nodes"][f"model.{PACKAGE}.{mart}"]
        assert node["access"] == "public"
        assert node["contract"]["enforced"] is True
        assert all(column["data_type"] for column in node["columns"].values())


def test_the_sync_post_hook_is_on_the_terminal_model(duckdb_build):
    nodes = json.loads((duckdb_build / "target" / "manifest.json").read_text())["nodes"]
    hooked = {
        node["unique_id"]
        for node in nodes.values()
        if any(
            "spotify_audiences_sync()" in hook["sql"]
            for hook in node["config"].get("post-hook", [])
        )
    }
    assert hooked == {f"model.{PACKAGE}.spotify_audience_sync"}
    sync = nodes[f"model.{PACKAGE}.spotify_audience_sync"]
    assert {f"model.{PACKAGE}.{mart}" for mart in MARTS} <= set(sync["depends_on"]["nodes"])
    rows = _query(duckdb_build, "select audience_name from main.spotify_audience_sync")
    assert sorted(rows) == sorted((name,) for name in AUDIENCE_MODELS)


def test_build_log_records_the_build_and_its_passing_tests(duckdb_build):
    run_results = json.loads((duckdb_build / "target" / "run_results.json").read_text())
    ((invocation, command, target, built, run, failed, failed_tests),) = _query(
        duckdb_build,
        "select invocation_id, dbt_command, target_name, marts_built, tests_run, tests_failed,"
        " failed_tests from main.spotify_audience_build_log",
    )
    assert invocation == run_results["metadata"]["invocation_id"]
    assert (command, target, built, failed, json.loads(failed_tests)) == (
        "build",
        "dev",
        True,
        0,
        [],
    )
    tests = [
        r
        for r in run_results["results"]
        if r["unique_id"].startswith(("test.", "unit_test."))
        and "crm_segment_sizes" not in r["unique_id"]
    ]
    assert run == len(tests), "every test on or upstream of the marts, and only those"


def test_a_failing_test_upstream_is_logged_by_name_and_skips_the_sync(consumer, tmp_path):
    dbt_vars = {"acme_require_lapsed_phone": True, "spotify_audiences_sync": True}
    result = run_dbt(consumer, tmp_path, "build", "--vars", json.dumps(dbt_vars))

    assert result.returncode != 0
    run_results = json.loads((tmp_path / "target" / "run_results.json").read_text())
    status = {r["unique_id"]: r["status"] for r in run_results["results"]}
    assert status[f"model.{PACKAGE}.spotify_audience_sync"] == "skipped"
    assert "select spotify_audiences_sync(" not in (tmp_path / "logs" / "dbt.log").read_text()
    rows = _query(
        tmp_path,
        "select tests_failed, failed_tests from main.spotify_audience_build_log"
        " order by recorded_at desc limit 1",
    )
    ((tests_failed, failed_tests),) = rows
    failed = {t["name"]: t["status"] for t in json.loads(failed_tests)}
    assert failed[FAILING_TEST] == "fail"
    assert tests_failed == len(failed) > 1, "the tests it skipped count as failed too"
    assert set(failed.values()) == {"fail", "skipped"}


def test_an_audience_model_without_member_columns_fails_naming_model_and_audience(
    consumer, tmp_path
):
    config = {"audiences": {"Segment Sizes": {"model": "crm_segment_sizes"}}}
    result = seed_and_run(
        consumer,
        tmp_path,
        "--select",
        "+stg_audience_members",
        "--vars",
        json.dumps({"spotify_audiences_config": config}),
    )
    assert result.returncode != 0
    assert (
        "Audience 'Segment Sizes' reads its members from model 'crm_segment_sizes', which has"
        " none of the member columns email, phone,"
    ) in _flat(result.stdout)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"model": "crm_lapsed_premium", "ad_account_id": "acct-42"},
            "ad_account_id must be a UUID (8-4-4-4-12 hex digits), got 'acct-42'",
        ),
        (
            {"model": "crm_lapsed_premium", "audience_id": "9d2c"},
            "audience_id must be a UUID",
        ),
        (
            {"model": "crm_lapsed_premium", "ad_acount_id": "4f0e9a4c-2b7d-4c1e-9a53-0d6f1e2a3b4c"},
            "unknown key 'ad_acount_id' (did you mean 'ad_account_id'?)",
        ),
        ({"model": "crm_lapsed_premium", "max_shrink": 5}, "max_shrink must be a share"),
    ],
)
def test_the_config_var_is_checked_when_dbt_parses(consumer, tmp_path, settings, message):
    config = {"audiences": {"Lapsed Premium Listeners": settings}}
    result = run_dbt(
        consumer,
        tmp_path,
        "parse",
        "--vars",
        json.dumps({"spotify_audiences_config": config}),
    )
    assert result.returncode != 0
    output = _flat(result.stdout)
    assert "spotify_audiences_config.audiences['Lapsed Premium Listeners']" in output
    assert message in output


def test_a_configured_audience_without_members_is_a_warning_naming_it(consumer, tmp_path):
    project = yaml.safe_load((consumer / "dbt_project.yml").read_text())
    config = project["vars"]["spotify_audiences_config"]
    config["audiences"]["Podcast Superfan"] = {"max_shrink": 0.1}
    result = seed_and_run(
        consumer,
        tmp_path,
        "--select",
        "+spotify_audience_summary",
        "--vars",
        json.dumps({"spotify_audiences_config": config}),
    )
    assert result.returncode == 0, _output(result)
    assert (
        "spotify_audiences_config names the audience 'Podcast Superfan', which has no members"
        " in this build (did you mean 'Podcast Superfans'?)"
    ) in _flat(result.stdout)


@pytest.fixture(scope="module")
def fakesnow(consumer):
    """A fakesnow server in this process, with the phone UDF registered."""
    sys.path.insert(0, str(ROOT / "tests" / "snowflake"))
    from snowflake_helpers import fakesnow_server

    with fakesnow_server() as server:
        yield server


def test_the_same_consumer_builds_on_fakesnow_with_the_same_marts(
    consumer, duckdb_build, fakesnow, tmp_path
):
    env = {"FAKESNOW_PORT": str(fakesnow.port), "FAKESNOW_SCHEMA": "MARKETING"}
    # The emulator has normalize_phone() registered already; on Snowflake, on-run-start stages
    # the handler and creates it.
    dbt_vars = {"spotify_audiences_create_udfs": False}
    result = run_dbt(
        consumer,
        tmp_path,
        "build",
        "--vars",
        json.dumps(dbt_vars),
        target="fakesnow",
        env=env,
    )
    assert result.returncode == 0, _output(result)

    on_duckdb = _marts(lambda sql: _query(duckdb_build, sql.format(schema="main")))
    on_fakesnow = _marts(lambda sql: fakesnow.query(sql.format(schema="ACME.MARKETING")))
    assert on_fakesnow == on_duckdb
    summary = "select * from {schema}.spotify_audience_summary order by audience_name"
    assert fakesnow.query(summary.format(schema="ACME.MARKETING")) == _query(
        duckdb_build, summary.format(schema="main")
    )
    ((command, target, built, failed),) = fakesnow.query(
        "select dbt_command, target_name, marts_built, tests_failed"
        " from ACME.MARKETING.spotify_audience_build_log order by recorded_at desc limit 1"
    )
    assert (command, target, built, failed) == ("build", "fakesnow", True, 0)


def test_models_and_the_single_relation_input_feed_one_build(consumer, tmp_path):
    members_csv = write_members(tmp_path / "crm_export.csv", seed=12, audiences={"Night Owls": 60})
    result = seed_and_run(
        consumer,
        tmp_path,
        "--select",
        "+spotify_audience_identifiers",
        "spotify_audience_rejects",
        "--vars",
        json.dumps({"audience_members_csv": str(members_csv)}),
    )
    assert result.returncode == 0, _output(result)
    members, _ = _marts(lambda sql: _query(tmp_path, sql.format(schema="main")))
    assert set(members) == {"Night Owls", *AUDIENCE_MODELS}
    assert members["Night Owls"] == expected(members_csv)["Night Owls"]["members"]
    want = _expected(tmp_path)
    for name in AUDIENCE_MODELS:
        assert members[name] == want[name]["members"]
