"""The suppression (opt-out) list, end to end: real dbt builds, hashes computed here."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

import duckdb
import phonenumbers
import pytest
from members_factory import write_members
from oracle import DEVICE, EMAIL, PHONE, e164, expected, strip
from support import dbt_build

SUPPRESSION_COLUMNS = ["audience_name", "email", "phone", "phone_country", "device_id"]


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _member_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _member_values(row: dict[str, str], valid: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (type, hash) of a member row's raw email, phone and device id that are ``valid``."""
    values = []
    email = strip(row["email"]).lower()
    if email:
        values.append((EMAIL, _sha(email)))
    phone = strip(row["phone"])
    if phone:
        normalized = e164(phone, strip(row["phone_country"]).upper() or "US")
        if normalized:
            values.append((PHONE, _sha(normalized)))
    device = strip(row["device_id"]).lower()
    if device:
        values.append((DEVICE, _sha(device)))
    return [value for value in values if value in valid]


def _query(build, sql: str) -> list[tuple]:
    with duckdb.connect(str(build.duckdb), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def _uploaded(build) -> dict[str, set[tuple[str, str]]]:
    result: dict[str, set] = {}
    for audience, kind, digest in _query(
        build,
        "select audience_name, identifier_type, identifier_sha256 "
        "from spotify_audience_identifiers",
    ):
        result.setdefault(audience, set()).add((kind, digest))
    return result


def _rejects(build) -> set[tuple]:
    return set(_query(build, "select * from spotify_audience_rejects"))


def _summary(build) -> dict[str, dict]:
    columns = [
        "audience_name",
        "identifiers_submitted",
        "identifiers_rejected",
        "identifiers_hashed",
        "identifiers_suppressed",
        "suppressed_email",
        "suppressed_phone",
        "suppressed_device_id",
        "distinct_hashes",
    ]
    rows = _query(build, f"select {', '.join(columns)} from spotify_audience_summary")
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("members") / "crm_export.csv"
    return write_members(path, seed=23, audiences={"Winback": 400, "VIP": 300})


@pytest.fixture(scope="module")
def plain_build(members, tmp_path_factory):
    return dbt_build(tmp_path_factory.mktemp("plain"), members)


def _suppression_list(members: Path) -> tuple[list[dict[str, str]], set[tuple]]:
    """Entries written the way a consent tool would, and the (audience, type, hash) they mean.

    Each entry takes a member's identifier in another spelling: upper case and padded email, a
    phone in national format with its country, an upper-case device id, or an email hashed
    here; some apply to one audience, the others (no audience) to all.
    """
    entries: list[dict[str, str]] = []
    meant: set[tuple] = set()
    want = expected(members)
    audiences = sorted(want)
    kinds_done: Counter = Counter()
    for row in _member_rows(members):
        audience = strip(row["audience_name"])
        scope = "" if len(entries) % 2 else audience
        targets = audiences if not scope else [audience]
        for kind, digest in _member_values(row, want[audience]["members"]):
            if kinds_done[kind] >= 8:
                continue
            entry = dict.fromkeys(SUPPRESSION_COLUMNS, "")
            entry["audience_name"] = f"  {scope} " if scope else ""
            if kind == EMAIL:
                email = strip(row["email"]).lower()
                entry["email"] = "  " + email.upper() + "\u00a0"
            elif kind == PHONE:
                region = strip(row["phone_country"]).upper() or "US"
                number = phonenumbers.parse(strip(row["phone"]), region)
                national = phonenumbers.format_number(
                    number, phonenumbers.PhoneNumberFormat.NATIONAL
                )
                entry["phone"] = national
                entry["phone_country"] = phonenumbers.region_code_for_number(number).lower()
            else:
                entry["device_id"] = strip(row["device_id"]).upper()
            entries.append(entry)
            kinds_done[kind] += 1
            meant.update((target, kind, digest) for target in targets)
    # an opt-out given as a hash, and entries that are not valid identifiers
    last = _member_rows(members)[-1]
    digest = _sha(strip(last["email"]).lower())
    assert (EMAIL, digest) in want[strip(last["audience_name"])]["members"]
    entries.append({**dict.fromkeys(SUPPRESSION_COLUMNS, ""), "email_sha256": digest.upper()})
    meant.update((target, EMAIL, digest) for target in audiences)
    entries.append({**dict.fromkeys(SUPPRESSION_COLUMNS, ""), "email": "not an email"})
    entries.append({**dict.fromkeys(SUPPRESSION_COLUMNS, ""), "phone": "12345"})
    return entries, meant


def _write_suppressions(path: Path, entries: list[dict[str, str]]) -> Path:
    columns = [*SUPPRESSION_COLUMNS, "email_sha256"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for entry in entries:
            writer.writerow({column: entry.get(column, "") for column in columns})
    return path


def test_suppressed_identifiers_are_withheld_and_counted(members, plain_build, tmp_path):
    entries, meant = _suppression_list(members)
    assert {kind for _, kind, _ in meant} == {EMAIL, PHONE, DEVICE}
    suppressions = _write_suppressions(tmp_path / "opt_outs.csv", entries)

    build = dbt_build(
        tmp_path / "build",
        members,
        extra_vars=f"spotify_audiences_suppression_csv: '{suppressions}'",
    )

    want = expected(members)
    uploaded = _uploaded(build)
    for audience, spec in want.items():
        withheld = {(k, d) for a, k, d in meant if a == audience}
        assert withheld & spec["members"], "every audience loses something"
        assert uploaded[audience] == spec["members"] - withheld
    # the rejects are the members' own, whatever the list holds
    assert _rejects(build) == _rejects(plain_build)

    summary, plain = _summary(build), _summary(plain_build)
    totals: Counter = Counter()
    for audience in want:
        counted: Counter = Counter()
        for row in _member_rows(members):
            if strip(row["audience_name"]) != audience:
                continue
            for kind, digest in _member_values(row, want[audience]["members"]):
                if (audience, kind, digest) in meant:
                    counted[kind] += 1
        totals.update(counted)
        line = summary[audience]
        assert line["suppressed_email"] == counted[EMAIL]
        assert line["suppressed_phone"] == counted[PHONE]
        assert line["suppressed_device_id"] == counted[DEVICE]
        assert line["identifiers_suppressed"] == (
            line["suppressed_email"] + line["suppressed_phone"] + line["suppressed_device_id"]
        )
        for column in ("identifiers_submitted", "identifiers_rejected", "identifiers_hashed"):
            assert line[column] == plain[audience][column]
        assert plain[audience]["identifiers_suppressed"] == 0
        assert line["distinct_hashes"] == len(uploaded[audience])
    assert min(totals[EMAIL], totals[PHONE], totals[DEVICE]) > 0


def test_a_relation_holding_the_list_suppresses_the_same(members, tmp_path):
    entries, meant = _suppression_list(members)
    workdir = tmp_path / "build"
    workdir.mkdir()
    with duckdb.connect(str(workdir / "audiences.duckdb")) as connection:
        connection.execute("create schema consent")
        connection.execute(
            "create table consent.opt_outs (audience_name varchar, email varchar, "
            "phone varchar, phone_country varchar, device_id varchar, email_sha256 varchar, "
            "withdrawn_at timestamp)"
        )
        connection.executemany(
            "insert into consent.opt_outs values (?, ?, ?, ?, ?, ?, now())",
            [
                [entry.get(c, "") or None for c in [*SUPPRESSION_COLUMNS, "email_sha256"]]
                for entry in entries
            ],
        )

    build = dbt_build(
        workdir, members, extra_vars="spotify_audiences_suppression_relation: consent.opt_outs"
    )

    for audience, spec in expected(members).items():
        withheld = {(k, d) for a, k, d in meant if a == audience}
        assert _uploaded(build)[audience] == spec["members"] - withheld


def test_a_model_name_is_read_through_ref(members, plain_build, tmp_path):
    # The members themselves as the opt-out list: nothing of theirs may be uploaded.
    build = dbt_build(
        tmp_path / "build",
        members,
        extra_vars="spotify_audiences_suppression_relation: stg_audience_members",
    )

    assert _uploaded(build) == {}
    for line in _summary(build).values():
        assert line["identifiers_suppressed"] == line["identifiers_hashed"] > 0
        assert line["distinct_hashes"] == 0
    assert _rejects(build) == _rejects(plain_build)


def test_a_list_without_identifier_columns_is_refused(members, tmp_path):
    suppressions = tmp_path / "opt_outs.csv"
    suppressions.write_text("audience_name,customer_id\nWinback,42\n")

    build = dbt_build(
        tmp_path / "build",
        members,
        extra_vars=f"spotify_audiences_suppression_csv: '{suppressions}'",
        check=False,
    )

    assert build.result.returncode != 0
    assert "has none of the identifier columns" in build.result.stdout
