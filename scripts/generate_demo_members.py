"""Generate the demo audience members CSV: a deterministic, messy CRM export.

The file mimics what a CRM hands over: mixed case, stray spaces, tabs and non-breaking spaces,
national and international phone formats from seven countries, a country column that is only
sometimes filled in, invalid values of every kind, re-exported duplicates, pre-hashed columns
and device ids. Every person is fictional: emails use reserved ``example`` domains and phone
numbers come from ranges set aside for drama where the country has one (US 555-01xx, Ofcom
drama ranges, ACMA 5550 ranges, ARCEP 01 99 00), or from made-up, sequential-looking numbers.

The output is byte-identical for a given seed. After writing, the script normalizes the file
the way the dbt models do and asserts that every audience has at least 1,000 valid distinct
identifiers (Spotify's minimum audience upload).

Usage: ``python scripts/generate_demo_members.py [--output PATH]``
"""

import argparse
import csv
import hashlib
import random
import re
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import phonenumbers

from spotify_audiences.project import MEMBER_COLUMNS

SEED = 20_260_601
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "data" / "demo_audience_members.csv"
COLUMNS = list(MEMBER_COLUMNS)
AUDIENCES = {
    "Lapsed Premium Listeners": 2_700,
    "Podcast Superfans": 2_200,
    "Audiobook Trial Starters": 1_100,
}
MIN_DISTINCT_IDENTIFIERS = 1_000

FIRST_NAMES = [
    "ada", "alan", "amara", "ana", "arjun", "bea", "carlos", "chen", "dara", "diego",
    "elena", "emeka", "fatima", "felix", "grace", "hana", "ines", "ivan", "jamal", "jon",
    "kai", "keiko", "lars", "lena", "leo", "luca", "maria", "mateo", "mei", "nadia",
    "nia", "noah", "olga", "omar", "paula", "priya", "quinn", "rafael", "rosa", "sam",
    "sara", "tariq", "theo", "uma", "vera", "wei", "xena", "yara", "yusuf", "zoe",
]  # fmt: skip
LAST_NAMES = [
    "abara", "berg", "costa", "dahl", "evans", "fischer", "garcia", "haddad", "ito", "jensen",
    "kaur", "lopez", "moreau", "nakamura", "okafor", "perez", "quist", "rossi", "silva", "tanaka",
    "umar", "varga", "weber", "xu", "yilmaz", "zhang",
]  # fmt: skip
EMAIL_DOMAINS = [
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
    "listeners.example.org",
]

# Python's str.isspace() set plus zero-width space and BOM: the models' trim_whitespace().
WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace()) + "\u200b\ufeff"
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
DEVICE_ID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
DEFAULT_PHONE_REGION = "US"


@dataclass(frozen=True)
class Phone:
    """A phone number as a CRM holds it: the typed text, the country column, the true E.164."""

    text: str
    country: str
    e164: str = ""


def sha256_hex(value: str) -> str:
    """SHA-256 of the UTF-8 bytes as 64 lower-case hex characters."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# Phone numbers: each maker returns (country, E.164, the layouts people type it in)
# ---------------------------------------------------------------------------------------------


def us_phone(rng: random.Random) -> tuple[str, str, list[str]]:
    """A US 555-01xx number (reserved for fiction) in one of the usual layouts."""
    area = rng.choice(["212", "206", "305", "312", "415", "503", "512", "617", "702", "720"])
    line = f"01{rng.randrange(100):02d}"
    return (
        "US",
        f"+1{area}555{line}",
        [
            f"({area}) 555-{line}",
            f"{area}-555-{line}",
            f"{area}.555.{line}",
            f"{area}555{line}",
            f"1 ({area}) 555-{line}",
            f"+1 {area} 555 {line}",
            f"+1-{area}-555-{line}",
            f"+1{area}555{line}",
        ],
    )


def gb_phone(rng: random.Random) -> tuple[str, str, list[str]]:
    """A UK number from Ofcom's drama ranges (London, Leeds, Manchester, Edinburgh)."""
    area, local_prefix = rng.choice(
        [("20", "7946"), ("113", "496"), ("161", "496"), ("131", "496")]
    )
    line = f"0{rng.randrange(1000):03d}"
    return (
        "GB",
        f"+44{area}{local_prefix}{line}",
        [
            f"0{area} {local_prefix} {line}",
            f"0{area}{local_prefix}{line}",
            f"+44 {area} {local_prefix} {line}",
            f"+44 (0){area} {local_prefix} {line}",
            f"0044 {area} {local_prefix} {line}",
            f"+44{area}{local_prefix}{line}",
        ],
    )


def au_phone(rng: random.Random) -> tuple[str, str, list[str]]:
    """An Australian landline from ACMA's 5550 fiction ranges."""
    area = rng.choice(["2", "3", "7", "8"])
    line = f"{rng.randrange(10_000):04d}"
    return (
        "AU",
        f"+61{area}5550{line}",
        [
            f"(0{area}) 5550 {line}",
            f"0{area} 5550 {line}",
            f"+61 {area} 5550 {line}",
            f"0011 61 {area} 5550 {line}",
        ],
    )


def fr_phone(rng: random.Random) -> tuple[str, str, list[str]]:
    """A French number from ARCEP's 01 99 00 fiction range."""
    pair_a, pair_b = f"{rng.randrange(100):02d}", f"{rng.randrange(100):02d}"
    return (
        "FR",
        f"+3319900{pair_a}{pair_b}",
        [
            f"01 99 00 {pair_a} {pair_b}",
            f"01.99.00.{pair_a}.{pair_b}",
            f"+33 1 99 00 {pair_a} {pair_b}",
            f"0033 1 99 00 {pair_a} {pair_b}",
        ],
    )


def de_phone(rng: random.Random) -> tuple[str, str, list[str]]:
    """A made-up German landline in Berlin, Hamburg or Munich (5550 exchange)."""
    area = rng.choice(["30", "40", "89"])
    line = f"{rng.randrange(10_000):04d}"
    return (
        "DE",
        f"+49{area}5550{line}",
        [
            f"0{area} 5550{line}",
            f"(0{area}) 5550-{line}",
            f"+49 {area} 5550 {line}",
            f"0049 {area} 5550{line}",
            f"+49 (0){area} 5550{line}",
        ],
    )


def in_phone(rng: random.Random) -> tuple[str, str, list[str]]:
    """A made-up Indian landline in Mumbai, Delhi or Bengaluru (5550 exchange)."""
    area = rng.choice(["22", "11", "80"])
    line = f"{rng.randrange(10_000):04d}"
    return (
        "IN",
        f"+91{area}5550{line}",
        [
            f"0{area} 5550 {line}",
            f"0{area}-5550{line}",
            f"+91 {area} 5550 {line}",
            f"+91-{area}-5550-{line}",
        ],
    )


def br_phone(rng: random.Random) -> tuple[str, str, list[str]]:
    """A made-up Brazilian mobile in São Paulo or Rio (9 5550 prefix)."""
    area = rng.choice(["11", "21"])
    line = f"{rng.randrange(10_000):04d}"
    return (
        "BR",
        f"+55{area}95550{line}",
        [
            f"({area}) 95550-{line}",
            f"{area} 95550 {line}",
            f"+55 {area} 95550-{line}",
            f"+55{area}95550{line}",
        ],
    )


PHONE_MAKERS: list[tuple[Callable[[random.Random], tuple[str, str, list[str]]], int]] = [
    (us_phone, 40),
    (gb_phone, 15),
    (de_phone, 12),
    (in_phone, 10),
    (br_phone, 10),
    (au_phone, 7),
    (fr_phone, 6),
]
INVALID_PHONES = [
    "12345",
    "555-0100",
    "call me",
    "N/A",
    "n/a",
    "000",
    "+1 212 555",
    "07700 900123",
    "+44 7700 900456",
    "(999) 555-0100",
    "0000000000",
    "tel",
]


def country_spelling(rng: random.Random, country: str) -> str:
    """The country column as CRMs fill it: mostly upper case, sometimes not, sometimes padded."""
    return rng.choice(
        [country, country, country, country.lower(), country.title(), f" {country} ", country]
    )


def make_phone(rng: random.Random) -> Phone:
    """A valid-looking phone as typed into a CRM, with the country column filled in or not."""
    makers, weights = zip(*PHONE_MAKERS, strict=True)
    country, e164, layouts = rng.choices(makers, weights=weights)[0](rng)
    text = rng.choice(layouts)
    international = text.startswith(("+", "00"))
    if country == "US":
        # US rows mostly rely on the default region.
        column = rng.choice(["", "", "", "US", "us"])
    elif international:
        column = rng.choice(["", country_spelling(rng, country)])
    else:
        # A national number without its country is read as a US number and rejected.
        column = "" if rng.random() < 0.12 else country_spelling(rng, country)
    return Phone(text, column, e164)


# ---------------------------------------------------------------------------------------------
# People and rows
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """One fictional customer with normalized identifiers (any of them may be missing)."""

    email: str | None
    phone: Phone | None
    device_id: str | None


def make_person(rng: random.Random, index: int) -> Person:
    """A customer with an email most of the time, a phone often and a device id sometimes."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local_part = rng.choice(
        [f"{first}.{last}{index}", f"{first}{index}", f"{first}_{last}.{index}"]
    )
    email = f"{local_part}@{rng.choice(EMAIL_DOMAINS)}" if rng.random() < 0.9 else None
    phone = make_phone(rng) if rng.random() < 0.6 else None
    device_id = str(uuid.UUID(int=rng.getrandbits(128), version=4)) if rng.random() < 0.35 else None
    return Person(email, phone, device_id)


def pad(rng: random.Random, value: str) -> str:
    """Surround a value with the whitespace CRM exports pick up, some of the time."""
    roll = rng.random()
    if roll < 0.70:
        return value
    padding = [" ", "  ", "\t", "\u00a0", "\ufeff", "\u200b", "\n", "\u3000", "\r\n"]
    return f"{rng.choice(padding[:6])}{value}" if roll < 0.82 else f"{value}{rng.choice(padding)}"


def mess_case(rng: random.Random, value: str) -> str:
    """Upper-case or title-case a value some of the time."""
    roll = rng.random()
    if roll < 0.15:
        return value.upper()
    if roll < 0.35:
        return value.title()
    return value


def broken_email(rng: random.Random, email: str) -> str:
    """One of the ways an email address arrives malformed."""
    local_part, domain = email.split("@")
    return rng.choice(
        [
            f"{local_part}@@{domain}",
            f"{local_part}.{domain}",
            f"{local_part}@{domain.split('.')[0]}",
            f"{local_part}@{domain.replace('.', '..', 1)}",
            f"{local_part} @{domain}",
            f"{local_part}@{domain}.",
            f"@{domain}",
            f"{local_part}@.{domain}",
            f"{local_part}@{domain}@{domain}",
            f"{local_part}\u00a0x@{domain}",
        ]
    )


def broken_device_id(rng: random.Random, device_id: str) -> str:
    """One of the ways a device id arrives malformed."""
    return rng.choice(
        [
            device_id.replace("-", ""),
            f"{{{device_id}}}",
            device_id[:-1],
            device_id[:-1] + "z",
            "00000000-0000-0000-0000",
            "unknown",
            "IDFA-NOT-AVAILABLE",
        ]
    )


def broken_sha256(rng: random.Random, digest: str) -> str:
    """One of the ways a pre-hashed value arrives malformed."""
    return rng.choice(
        [
            digest[:-1],
            digest + "0",
            f"sha256:{digest}",
            hashlib.md5(digest.encode(), usedforsecurity=False).hexdigest(),
            digest[:-1] + "g",
            "0x" + digest[2:],
        ]
    )


def member_row(rng: random.Random, audience: str, person: Person) -> dict[str, str]:
    """A CSV row for ``person`` in ``audience``, with the mess of a real export."""
    row = dict.fromkeys(COLUMNS, "")
    row["audience_name"] = audience if rng.random() < 0.97 else f"{audience} "
    if person.email is not None:
        if rng.random() < 0.06:
            row["email"] = broken_email(rng, person.email)
        elif rng.random() < 0.05:
            # Only the CRM's hash of the address was exported.
            digest = sha256_hex(person.email)
            row["email_sha256"] = digest.upper() if rng.random() < 0.4 else digest
        else:
            row["email"] = pad(rng, mess_case(rng, person.email))
    elif rng.random() < 0.3:
        row["email"] = rng.choice(["   ", "\t", "\u00a0", "n/a", "-", "none"])
    if person.phone is not None:
        if rng.random() < 0.04:
            # The CRM hashed the number's E.164 form.
            row["phone_sha256"] = sha256_hex(person.phone.e164)
        else:
            row["phone"] = pad(rng, person.phone.text)
            row["phone_country"] = person.phone.country
    elif rng.random() < 0.06:
        row["phone"] = rng.choice(INVALID_PHONES)
        row["phone_country"] = rng.choice(["", "", "US", "gb", "XX"])
    if person.device_id is not None:
        if rng.random() < 0.07:
            row["device_id"] = broken_device_id(rng, person.device_id)
        elif rng.random() < 0.06:
            row["device_id_sha256"] = sha256_hex(person.device_id)
        else:
            device_id = person.device_id.upper() if rng.random() < 0.3 else person.device_id
            row["device_id"] = pad(rng, device_id)
    for column in ("email_sha256", "phone_sha256", "device_id_sha256"):
        if row[column] and rng.random() < 0.1:
            row[column] = broken_sha256(rng, row[column])
        elif row[column] and rng.random() < 0.1:
            row[column] = pad(rng, row[column])
    return row


def generate_rows(seed: int = SEED) -> list[dict[str, str]]:
    """All member rows of every audience, shuffled, deterministic for ``seed``."""
    rng = random.Random(seed)
    people = [make_person(rng, index) for index in range(1, 5_200)]
    rows: list[dict[str, str]] = []
    for audience, size in AUDIENCES.items():
        members = rng.sample(people, size)
        audience_rows = [member_row(rng, audience, person) for person in members]
        # The same customer exported again, sometimes with their address typed differently.
        for row in rng.sample(audience_rows, size // 15):
            again = dict(row)
            if again["email"] and rng.random() < 0.5:
                again["email"] = pad(rng, mess_case(rng, again["email"].strip(WHITESPACE)))
            audience_rows.append(again)
        # Rows with nothing to match on.
        audience_rows.extend(
            dict.fromkeys(COLUMNS, "") | {"audience_name": audience} for _ in range(8)
        )
        rows.extend(audience_rows)
    rng.shuffle(rows)
    return rows


# ---------------------------------------------------------------------------------------------
# The oracle: the models' normalization in plain Python
# ---------------------------------------------------------------------------------------------

IDENTIFIER_TYPES = {
    "email": "EMAIL_ID_SHA256",
    "phone": "PHONE_NUMBER_SHA256",
    "device_id": "DEVICE_ID_SHA256",
    "email_sha256": "EMAIL_ID_SHA256",
    "phone_sha256": "PHONE_NUMBER_SHA256",
    "device_id_sha256": "DEVICE_ID_SHA256",
}


def normalize_phone(phone: Phone) -> str | None:
    """E.164 of a phone typed in a country (empty country: the default region), or None."""
    region = phone.country.strip(WHITESPACE).upper() or DEFAULT_PHONE_REGION
    try:
        number = phonenumbers.parse(phone.text.strip(WHITESPACE), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def hash_identifier(column: str, row: dict[str, str]) -> tuple[str | None, str | None]:
    """``(sha256, None)`` for a valid value, ``(None, reason)`` for a rejected one."""
    value = row[column].strip(WHITESPACE)
    if column.endswith("_sha256"):
        value = value.lower()
        return (value, None) if SHA256_PATTERN.fullmatch(value) else (None, "malformed_sha256")
    if column == "email":
        value = value.lower()
        valid = EMAIL_PATTERN.fullmatch(value) and not any(c in WHITESPACE for c in value)
        return (sha256_hex(value), None) if valid else (None, "malformed_email")
    if column == "phone":
        e164 = normalize_phone(Phone(value, row["phone_country"]))
        return (sha256_hex(e164), None) if e164 else (None, "invalid_phone")
    value = value.lower()
    valid = DEVICE_ID_PATTERN.fullmatch(value)
    return (sha256_hex(value), None) if valid else (None, "malformed_device_id")


@dataclass
class AudienceStats:
    """What the models should report for one audience."""

    distinct_hashes: dict[str, set[str]]
    rejects: Counter[tuple[str, str]]


def expected_stats(rows: list[dict[str, str]]) -> dict[str, AudienceStats]:
    """Distinct hashes by identifier type and rejects by (type, reason), per audience."""
    stats: dict[str, AudienceStats] = {}
    for row in rows:
        audience = row["audience_name"].strip(WHITESPACE)
        audience_stats = stats.setdefault(audience, AudienceStats({}, Counter()))
        for column, identifier_type in IDENTIFIER_TYPES.items():
            if not row[column].strip(WHITESPACE):
                continue
            digest, reason = hash_identifier(column, row)
            if digest is not None:
                audience_stats.distinct_hashes.setdefault(identifier_type, set()).add(digest)
            else:
                audience_stats.rejects[(identifier_type, reason)] += 1
    return stats


def write_csv(rows: list[dict[str, str]], output: Path) -> None:
    """Write the rows as UTF-8 CSV with a header and ``\\n`` line endings."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    """Write the demo CSV, check every audience is large enough and print what to expect."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="CSV file to write")
    args = parser.parse_args(argv)

    rows = generate_rows()
    write_csv(rows, args.output)

    print(f"{len(rows):,} member rows -> {args.output}")
    for audience, stats in sorted(expected_stats(rows).items()):
        distinct = sum(len(hashes) for hashes in stats.distinct_hashes.values())
        assert distinct >= MIN_DISTINCT_IDENTIFIERS, (
            f"{audience!r} has {distinct} valid distinct identifiers, "
            f"fewer than {MIN_DISTINCT_IDENTIFIERS}"
        )
        by_type = ", ".join(
            f"{identifier_type} {len(hashes):,}"
            for identifier_type, hashes in sorted(stats.distinct_hashes.items())
        )
        rejects = ", ".join(
            f"{identifier_type}/{reason} {count}"
            for (identifier_type, reason), count in sorted(stats.rejects.items())
        )
        print(f"{audience}: {distinct:,} distinct ({by_type}); rejects: {rejects}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
