"""The suppression list as a relation, on the snowflake adapter against fakesnow."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json

import phonenumbers
from oracle import EMAIL, PHONE, e164, expected, strip
from snowflake_helpers import DATABASE, dbt_on_fakesnow


def test_a_suppression_table_withholds_the_same_hashes(fakesnow, fakesnow_build, tmp_path):
    want = expected(fakesnow_build.members_csv)
    with open(fakesnow_build.members_csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    entries, withheld = [], set()
    for row in rows:
        audience = strip(row["audience_name"])
        email = strip(row["email"]).lower()
        digest = hashlib.sha256(email.encode()).hexdigest()
        if email and (EMAIL, digest) in want[audience]["members"] and len(entries) < 5:
            # one audience only, the address as a consent tool might have typed it
            entries.append((f" {audience} ", "  " + email.upper(), None, None))
            withheld.add((audience, EMAIL, digest))
        phone, region = strip(row["phone"]), strip(row["phone_country"]).upper() or "US"
        normalized = phone and e164(phone, region)
        if (
            normalized
            and (PHONE, hashlib.sha256(normalized.encode()).hexdigest())
            in want[audience]["members"]
        ):
            number = phonenumbers.parse(normalized)
            national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
            if len(entries) < 10:
                # every audience: no audience name
                entries.append(("", None, national, phonenumbers.region_code_for_number(number)))
                digest = hashlib.sha256(normalized.encode()).hexdigest()
                withheld.update((name, PHONE, digest) for name in want)
    table = f"{DATABASE}.CONSENT.OPT_OUTS"
    with contextlib.closing(fakesnow.connect()) as connection:
        cursor = connection.cursor()
        cursor.execute(f"create schema if not exists {DATABASE}.CONSENT")
        cursor.execute(
            f"create or replace table {table} "
            "(audience_name varchar, email varchar, phone varchar, phone_country varchar)"
        )
        cursor.executemany(f"insert into {table} values (%s, %s, %s, %s)", entries)

    result = dbt_on_fakesnow(
        fakesnow,
        tmp_path,
        "build",
        "--vars",
        json.dumps(
            {
                "audience_members_relation": fakesnow_build.members_table,
                "spotify_audiences_suppression_relation": table,
            }
        ),
        schema="SUPPRESSED",
    )

    assert result.returncode == 0, result.stdout[-4000:]
    uploaded: dict[str, set] = {}
    for audience, kind, digest in fakesnow.query(
        f"select audience_name, identifier_type, identifier_sha256 "
        f"from {DATABASE}.SUPPRESSED.spotify_audience_identifiers"
    ):
        uploaded.setdefault(audience, set()).add((kind, digest))
    assert {kind for _, kind, _ in withheld} == {EMAIL, PHONE}
    for audience, spec in want.items():
        mine = {(kind, digest) for name, kind, digest in withheld if name == audience}
        assert uploaded[audience] == spec["members"] - mine
    suppressed = dict(
        fakesnow.query(
            f"select audience_name, identifiers_suppressed "
            f"from {DATABASE}.SUPPRESSED.spotify_audience_summary"
        )
    )
    for audience, spec in want.items():
        # each withheld hash the audience holds came from one member value or more
        mine = {(kind, digest) for name, kind, digest in withheld if name == audience}
        assert suppressed[audience] >= len(mine & spec["members"])
    assert sum(suppressed.values()) >= len(entries) > 0
