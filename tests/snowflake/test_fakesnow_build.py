"""The same dbt project, unchanged, on the snowflake adapter against a fakesnow server."""

from __future__ import annotations

import importlib.metadata
from collections import Counter, defaultdict

from oracle import expected


def test_build_passes_models_data_tests_and_unit_tests(fakesnow_build):
    assert fakesnow_build.returncode == 0, fakesnow_build.stdout[-6000:]
    results = fakesnow_build.run_results["results"]
    kinds = Counter(r["unique_id"].split(".")[0] for r in results)
    assert kinds["model"] == 10
    assert kinds["unit_test"] >= 10
    assert kinds["test"] >= 30
    statuses = {r["status"] for r in results if not r["unique_id"].startswith("exposure.")}
    assert statuses <= {"success", "pass"}


def test_mart_holds_exactly_what_the_oracle_expects(fakesnow_build, fakesnow):
    want = expected(fakesnow_build.members_csv)
    mart = fakesnow_build.mart_schema
    members: dict[str, set] = defaultdict(set)
    for audience, kind, digest in fakesnow.query(
        f"select audience_name, identifier_type, identifier_sha256 "
        f"from {mart}.spotify_audience_identifiers"
    ):
        members[audience].add((kind, digest))
    rejected: dict[str, Counter] = defaultdict(Counter)
    for audience, kind, count in fakesnow.query(
        f"select audience_name, identifier_type, rejected_count "
        f"from {mart}.spotify_audience_rejects"
    ):
        rejected[audience][kind] += count
    assert set(members) == set(want)
    for name, spec in want.items():
        assert members[name] == spec["members"]
        assert dict(rejected[name]) == dict(spec["rejected"])


def test_on_run_start_creates_the_udf_from_the_staged_files_and_uploads_nothing(fakesnow_build):
    log = (fakesnow_build.workdir / "logs" / "dbt.log").read_text()
    assert "create or replace function SPOTIFY_AUDIENCES.AUDIENCES.normalize_phone(" in log
    assert "handler = 'phone_numbers.normalize_phone_batch'" in log
    stage = "SPOTIFY_AUDIENCES.AUDIENCES.spotify_audiences_code"
    version = importlib.metadata.version("phonenumbers")
    assert f"imports = ('@{stage}/phone_numbers.py', '@{stage}/phonenumbers-{version}.zip')" in log
    # a user's project has no python_udfs/: the build never PUTs, snowflake-setup stages
    assert "put 'file://" not in log
