"""Generate N synthetic audience members for ``make bench``: deterministic, realistic, fast.

The mix is what CRM exports look like at scale: four audiences; people who appear more than
once (re-exported rows, the same person in two audiences, the same number typed another way);
phones from 16 countries in every common format (E.164, international, national with its
trunk 0, ``00`` and ``011`` prefixes, dots, dashes, slashes, parentheses, ``(0)``), a
``phone_country`` column that is often empty or lower-case, surrounding whitespace, junk
(``N/A``, extensions, letters, too short); emails with mixed case, whitespace and malformed
ones; device ids, a few of them malformed; a few pre-hashed values.

Phones are built from templates: a few hundred numbers per country drawn from phonenumbers'
own number patterns, written in each format by Python, with their last four digits left as
placeholders that DuckDB fills per row. DuckDB then writes all N rows in one ``COPY``, so ten
million members take seconds. The same N and seed give the same file (with the same DuckDB).

Usage: ``python scripts/bench_members.py --members 1000000 --output members.csv``
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import duckdb
import phonenumbers
from phonenumbers.phonemetadata import PhoneMetadata

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spotify_audiences.udfs import phone_fast_path

SEED = 20_260_606
# Share of phone numbers per country (percent). Most markets the fast path has rules for, a few
# without (AR national numbers, RU, ZA, NG) that the UDF reads.
COUNTRIES = {
    "US": 34, "GB": 10, "DE": 8, "BR": 8, "IN": 8, "FR": 6, "MX": 5, "ES": 4, "IT": 3,
    "CA": 3, "AU": 3, "NL": 2, "SE": 2, "JP": 1, "AR": 1, "ZA": 1, "NG": 0.5, "RU": 0.5,
}  # fmt: skip
AUDIENCES = {
    "Lapsed Premium Listeners": 40,
    "Podcast Superfans": 30,
    "Audiobook Trial Starters": 20,
    "Concert Goers": 10,
}
BASES_PER_COUNTRY = 400
JUNK_PHONES = (
    "N/A", "n/a", "none", "-", "0", "000-000-0000", "12345", "call me", "unknown", "+", "TBD",
    "555-0100 ext. 12", "(212) 555-0100 x3", "1-800-FLOWERS", "+44 20 7946 0123 ext 4",
)  # fmt: skip
FIRST_NAMES = (
    "ada", "alan", "amara", "ana", "arjun", "bea", "carlos", "chen", "dara", "diego", "elena",
    "emeka", "fatima", "felix", "grace", "hana", "ines", "ivan", "jamal", "jon", "kai", "keiko",
    "lars", "lena", "leo", "luca", "maria", "mateo", "mei", "nadia", "noah", "olga", "omar",
    "paula", "priya", "quinn", "rafael", "rosa", "sam", "sara", "tariq", "theo", "uma", "wei",
)  # fmt: skip
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "mail.example.org")
# Placeholders for the last four digits of a phone template (never in a formatted number).
SLOTS = "abcd"


def _sample(node: phone_fast_path.Node, rng: random.Random) -> str:
    if isinstance(node, phone_fast_path.Chars):
        return rng.choice(sorted(node.digits))
    if isinstance(node, phone_fast_path.Seq):
        return "".join(_sample(item, rng) for item in node.items)
    if isinstance(node, phone_fast_path.Alt):
        return _sample(rng.choice(node.options), rng)
    if isinstance(node, phone_fast_path.Repeat):
        return "".join(_sample(node.node, rng) for _ in range(rng.randint(node.low, node.high)))
    return ""


def _with_slots(text: str) -> str | None:
    """``text`` with its last four digits replaced by the placeholders, if it has four."""
    positions = [i for i, char in enumerate(text) if char.isdigit()][-4:]
    if len(positions) < 4:
        return None
    chars = list(text)
    for slot, position in zip(SLOTS, positions, strict=True):
        chars[position] = slot
    return "".join(chars)


def phone_templates(seed: int) -> list[tuple[str, str, str, int]]:
    """(country, template, country column, copies) rows: the phone formats of each country."""
    rng = random.Random(seed)
    rows: list[tuple[str, str, str, int]] = []
    for country, weight in COUNTRIES.items():
        metadata = PhoneMetadata.metadata_for_region(country)
        code = metadata.country_code
        mobile = phone_fast_path.parse_pattern(metadata.mobile.national_number_pattern)
        fixed = phone_fast_path.parse_pattern(metadata.fixed_line.national_number_pattern)
        templates: list[tuple[str, str]] = []
        for _ in range(BASES_PER_COUNTRY):
            national = _sample(mobile if rng.random() < 0.6 else fixed, rng)
            number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
            if national.startswith("0"):
                number.italian_leading_zero = True
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            international = phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
            national_text = phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.NATIONAL
            )
            idd = "011" if country in ("US", "CA") else "00"
            trunk = metadata.national_prefix or ""
            # (text, which phone_country to write: "own" region, or "any")
            formats = [
                (e164, "any"),
                (e164, "any"),
                (international, "any"),
                (international.replace(" ", "-"), "any"),
                (f"{idd} {international[1:]}", "own"),
                (national_text, "own"),
                (national_text, "own"),
                (national_text.replace(" ", "."), "own"),
                (national_text.replace(" ", "-"), "own"),
                (trunk + national, "own"),
            ]
            if trunk == "0":
                formats.append((f"+{code} (0){international[len(str(code)) + 1 :]}", "any"))
            if country in ("US", "CA"):
                formats.append((f"1-{national[:3]}-{national[3:6]}-{national[6:]}", "own"))
                formats.append((f"({national[:3]}) {national[3:6]}-{national[6:]}", "own"))
            if country == "DE":
                formats.append((f"0{national[:3]}/{national[3:]}", "own"))
            for text, which in formats:
                template = _with_slots(text)
                if template is not None:
                    templates.append((template, which))
        copies = max(1, round(weight * 4))
        rows.extend(
            (country, template, country if which == "own" else "", copies)
            for template, which in templates
        )
    return rows


def generate(members: int, output: Path, seed: int = SEED) -> None:
    """Write ``members`` rows to ``output`` (CSV with a header)."""
    import pandas

    con = duckdb.connect()
    frame = pandas.DataFrame(
        phone_templates(seed), columns=["country", "template", "own", "copies"]
    ).reset_index(names="position")
    con.register("phone_templates", frame)
    con.execute(
        "create table templates as select "
        "row_number() over (order by t.position, c.copy) - 1 as id, "
        "t.country, t.template, t.own from phone_templates as t, "
        "lateral (select unnest(range(t.copies)) as copy) as c"
    )
    audiences = []
    for name, weight in AUDIENCES.items():
        audiences += [name] * weight
    con.execute("create table audiences as select unnest(?) as name", [audiences])
    con.execute("create table junk as select unnest(?) as phone", [list(JUNK_PHONES)])
    con.execute("create table first_names as select unnest(?) as name", [list(FIRST_NAMES)])
    con.execute("create table domains as select unnest(?) as name", [list(DOMAINS)])
    counts = {
        table: con.execute(f"select count(*) from {table}").fetchone()[0]  # noqa: S608
        for table in ("templates", "audiences", "junk", "first_names", "domains")
    }
    # h(i, k): a deterministic 64-bit hash of row i (or person p) and a salt k.
    sql = f"""
    with rows as (
        select
            i,
            -- 15% of rows are a person seen before (a re-export, or in another audience)
            case when hash(i, {seed}, 1) % 100 < 15 then hash(i, {seed}, 2) % {members} else i end
                as person
        from range({members}) as t(i)
    ),
    people as (
        select
            i,
            person,
            hash(i, {seed}, 3) as row_hash,
            hash(person, {seed}, 4) as person_hash,
            hash(person, {seed}, 5) as phone_hash,
            hash(person, {seed}, 6) as email_hash
        from rows
    ),
    shaped as (
        select
            people.*,
            audiences.name as audience_name,
            first_names.name as first_name,
            domains.name as domain,
            templates.template,
            templates.own,
            templates.country,
            junk.phone as junk_phone,
            lpad(cast(phone_hash // 1000 % 10000 as varchar), 4, '0') as last_four
        from people
        join audiences on audiences.rowid = row_hash % {counts["audiences"]}
        join first_names on first_names.rowid = email_hash % {counts["first_names"]}
        join domains on domains.rowid = email_hash // 100 % {counts["domains"]}
        -- a person keeps one number; 5% of rows type it another way
        join templates on templates.id = (
            case when row_hash // 7 % 100 < 5 then row_hash else phone_hash end
        ) % {counts["templates"]}
        join junk on junk.rowid = phone_hash // 13 % {counts["junk"]}
    )
    select
        audience_name,
        case
            when email_hash // 17 % 100 < 8 then null
            when email_hash // 17 % 100 < 11 then
                first_name || (case when email_hash % 2 = 0 then '@' else ' at ' end) || domain
            else
                (case row_hash // 19 % 100
                    when 0 then chr(9) when 1 then chr(10) when 2 then chr(160)
                    when 3 then ' ' when 4 then ' ' when 5 then '  ' else '' end)
                || (case when person_hash % 3 = 0 then upper(first_name[1]) || first_name[2:]
                    else first_name end)
                || '.' || cast(person as varchar) || '@'
                || (case when person_hash // 3 % 4 = 0 then upper(domain) else domain end)
                || (case row_hash // 23 % 100 when 0 then ' ' when 1 then chr(9) else '' end)
        end as email,
        case
            when phone_hash // 31 % 100 < 10 then null
            when phone_hash // 31 % 100 < 13 then junk_phone
            else
                (case row_hash // 37 % 100 when 0 then ' ' when 1 then chr(9) else '' end)
                || translate(template, '{SLOTS}', last_four)
                || (case row_hash // 41 % 100 when 0 then ' ' when 1 then chr(160) else '' end)
        end as phone,
        case
            when own = '' and phone_hash // 43 % 100 < 70 then ''
            when phone_hash // 43 % 100 < 12 then ''
            when phone_hash // 43 % 100 < 18 then lower(country)
            when phone_hash // 43 % 100 < 20 then ' ' || country
            else country
        end as phone_country,
        case
            when person_hash // 47 % 100 < 70 then null
            when person_hash // 47 % 100 < 71 then 'unknown'
            else
                (case when person_hash // 53 % 10 = 0 then upper(md5(cast(person as varchar)))
                    else md5(cast(person as varchar)) end)
        end as device_hex,
        case
            when person_hash // 59 % 100 < 97 then null
            when person_hash // 59 % 1000 < 975 then 'sha256:' || sha256(cast(person as varchar))
            else sha256('pre' || cast(person as varchar))
        end as email_sha256,
        case when person_hash // 61 % 100 < 99 then null
            else sha256('phone' || cast(person as varchar)) end as phone_sha256,
        cast(null as varchar) as device_id_sha256
    from shaped
    order by i
    """  # noqa: S608 - numbers and fixed names only
    final = f"""
    select
        audience_name, email, phone, phone_country,
        case
            when length(device_hex) = 32 then
                device_hex[1:8] || '-' || device_hex[9:12] || '-' || device_hex[13:16] || '-'
                || device_hex[17:20] || '-' || device_hex[21:32]
            else device_hex
        end as device_id,
        email_sha256, phone_sha256, device_id_sha256
    from ({sql})
    """  # noqa: S608
    output.parent.mkdir(parents=True, exist_ok=True)
    escaped = str(output).replace("'", "''")
    con.execute(f"copy ({final}) to '{escaped}' (header, delimiter ',')")
    con.close()


def main(argv: list[str] | None = None) -> int:
    """Write the members file and print its size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    generate(args.members, args.output, args.seed)
    size = args.output.stat().st_size
    print(
        f"{args.members:,} members, {size / 1e6:,.1f} MB in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
