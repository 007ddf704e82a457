"""The phone property test's inputs and check, shared by the test suite and ``make bench``.

Generates (phone, phone_country) pairs the way CRM exports hold them (many countries, every
way people type them), writes them as a members file, runs the real models on DuckDB, and
compares each member row with the reference: ``normalize_phone`` (phonenumbers parse in the
row's region, is_valid_number, E.164) on the trimmed value, in the upper-cased region or the
default one. It checks twice:

- the table dbt built, where the fast path and the UDF fallback together give every value;
- the compiled model SQL run again with the UDF replaced by a marker, so that every value the
  SQL gave on its own is compared too, and the share left to the UDF is known.

Used by ``tests/test_phone_fast_path.py`` (50,000 inputs) and ``scripts/bench.py`` (a million).
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import phonenumbers
from duckdb.sqltypes import VARCHAR
from phonenumbers.phonemetadata import PhoneMetadata
from spotify_audiences.udfs import phone_fast_path
from spotify_audiences.udfs.phone_numbers import normalize_phone

from spotify_audiences.project import dbt_args

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

SEED = 20_260_606
DEFAULT_REGION = "US"
UDF_MARKER = "<udf>"
# Extra characters the models trim besides Python's whitespace (see macros/whitespace_characters).
EXTRA_SPACE = "\u200b\ufeff"

# Regions the numbers come from: every region with fast-path rules, some sharing a calling code
# with them (+1 islands, Crown dependencies, Vatican, Aland), and some without rules at all.
NUMBER_REGIONS = (
    *phone_fast_path.REGIONS,
    "JM", "PR", "BS", "GG", "JE", "IM", "VA", "AX", "SJ", "CC",
    "RU", "KZ", "CN", "KR", "ZA", "NG", "AE", "SG", "HK", "AR",
)  # fmt: skip
# What goes in the phone_country column besides the number's own region.
ODD_COUNTRIES = ("", " ", "\t", "XX", "ZZ", "UK", "001", "u s", "EN", "G B")
SEPARATORS = (" ", " ", "-", ".", "/", "", " - ", "  ", ". ")
JUNK = (
    "N/A", "none", "-", "0", "+", "++44 20 7946 0123", "+-1 212 555 0100",
    "(+44) 20 7946 0123", "+(44) 20 7946 0123", "+44 20 7946 0123 / +44 20 7946 0124",
    "+4\u0664 20 7946 0123", "\uff0b44 20 7946 0123", "+44\u00a020\u00a07946\u00a00123",
    "00", "000", "+0", "+999 123 456", "+1", "1" * 251, "+" + "1" * 260, "(0)", "()", "+()",
)  # fmt: skip
PADDING = ("", "", "", " ", "  ", "\t", "\n", "\u00a0", "\u200b", "\ufeff", " \t ")


def region_metadata(region: str) -> PhoneMetadata:
    found = PhoneMetadata.metadata_for_region(region)
    if found is None:
        raise ValueError(f"phonenumbers has no metadata for region {region}")
    return found


def sample(node: phone_fast_path.Node, rng: random.Random) -> str:
    """A random string the parsed metadata pattern matches."""
    if isinstance(node, phone_fast_path.Chars):
        return rng.choice(sorted(node.digits))
    if isinstance(node, phone_fast_path.Seq):
        return "".join(sample(item, rng) for item in node.items)
    if isinstance(node, phone_fast_path.Alt):
        return sample(rng.choice(node.options), rng)
    if isinstance(node, phone_fast_path.Repeat):
        return "".join(sample(node.node, rng) for _ in range(rng.randint(node.low, node.high)))
    return ""


class PhoneInputs:
    """Generates (phone, phone_country) pairs the way CRM exports hold them, and worse."""

    TYPES = ("mobile", "fixed_line", "toll_free", "premium_rate", "voip", "uan", "pager")

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        rules = phone_fast_path.build_rules()["regions"]
        # every literal international and national prefix the fast path strips, by region
        self.prefixes: dict[tuple[str, str], list[str]] = {
            (region, kind): [
                literal for group in rule[kind]["literal_groups"] for literal in group["literals"]
            ]
            for region, rule in rules.items()
            for kind in ("international_prefix", "national_prefix")
        }
        self.patterns: dict[str, list[phone_fast_path.Node]] = {}
        for region in NUMBER_REGIONS:
            metadata = region_metadata(region)
            nodes = []
            for type_name in self.TYPES:
                desc = getattr(metadata, type_name)
                if desc is not None and desc.national_number_pattern:
                    nodes.append(phone_fast_path.parse_pattern(desc.national_number_pattern))
            self.patterns[region] = nodes

    def national_number(self, region: str) -> str:
        """Mostly a number valid for the region (mobiles most often), else random digits."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.8:
            nodes = self.patterns[region]
            node = nodes[0] if rng.random() < 0.5 else rng.choice(nodes)
            return sample(node, rng)
        if roll < 0.9:
            # one digit changed, added or dropped: often invalid, sometimes still valid
            digits = list(sample(rng.choice(self.patterns[region]), rng))
            position = rng.randrange(len(digits))
            action = rng.choice(("change", "add", "drop"))
            if action == "change":
                digits[position] = rng.choice("0123456789")
            elif action == "add":
                digits.insert(position, rng.choice("0123456789"))
            elif len(digits) > 1:
                del digits[position]
            return "".join(digits)
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 16)))

    def grouped(self, digits: str) -> str:
        """Digits split in groups of 1 to 4 with one kind of separator (sometimes mixed)."""
        rng = self.rng
        separator = rng.choice(SEPARATORS)
        mixed = rng.random() < 0.1
        parts, start = [], 0
        while start < len(digits):
            size = rng.randint(1, 4)
            parts.append(digits[start : start + size])
            start += size
        if rng.random() < 0.3 and len(parts) > 1:
            parts[0] = f"({parts[0]})"
        if not mixed:
            return separator.join(parts)
        return "".join(part + rng.choice(SEPARATORS) for part in parts).rstrip()

    def phone(self, region: str, parse_region: str) -> str:
        """One way of writing a number of ``region`` as someone in ``parse_region`` might."""
        rng = self.rng
        metadata = region_metadata(region)
        code = str(metadata.country_code)
        number = self.national_number(region)
        trunk = metadata.national_prefix or ""
        parse_metadata = PhoneMetadata.metadata_for_region(parse_region)
        idd = "00"
        if parse_metadata is not None and parse_metadata.preferred_international_prefix:
            idd = parse_metadata.preferred_international_prefix
        elif parse_metadata is not None and (parse_metadata.international_prefix or "").isdigit():
            idd = parse_metadata.international_prefix
        idd = idd.replace("~", "")
        literal_idds = self.prefixes.get((parse_region, "international_prefix"))
        if literal_idds and rng.random() < 0.4:
            idd = rng.choice(literal_idds)
        elif (
            parse_metadata is not None
            and parse_metadata.international_prefix
            and rng.random() < 0.3
        ):
            idd = sample(phone_fast_path.parse_pattern(parse_metadata.international_prefix), rng)
        carriers = self.prefixes.get((region, "national_prefix")) or [trunk]
        if metadata.national_prefix_for_parsing and rng.random() < 0.5:
            # any string the national prefix pattern matches: carrier codes, mobile tokens
            carriers = [
                sample(phone_fast_path.parse_pattern(metadata.national_prefix_for_parsing), rng)
            ]
        form = rng.choices(
            (
                "e164", "international", "trunk_in_brackets", "idd", "national", "bare",
                "calling_code_no_plus", "plus_and_trunk", "formatted", "letters",
                "too_short", "too_long", "junk", "national_prefix", "idd_then_zero",
            ),
            weights=(16, 16, 4, 8, 22, 8, 5, 3, 8, 3, 3, 2, 2, 3, 1),
        )[0]  # fmt: skip
        if form == "e164":
            return f"+{code}{number}"
        if form == "international":
            return f"+{code}{rng.choice(SEPARATORS)}{self.grouped(number)}"
        if form == "trunk_in_brackets":
            return f"+{code} ({trunk or '0'}){self.grouped(number)}"
        if form == "idd":
            return (
                f"{idd}{rng.choice(SEPARATORS)}{code}{rng.choice(SEPARATORS)}{self.grouped(number)}"
            )
        if form == "national":
            return self.grouped(trunk + number)
        if form == "bare":
            return self.grouped(number)
        if form == "calling_code_no_plus":
            rest = trunk + number if rng.random() < 0.3 else number
            return f"{code}{rng.choice(SEPARATORS)}{self.grouped(rest)}"
        if form == "national_prefix":
            return f"{rng.choice(carriers)}{rng.choice(SEPARATORS)}{self.grouped(number)}"
        if form == "idd_then_zero":
            return f"{idd}0{self.grouped(number)}"
        if form == "plus_and_trunk":
            return f"+{code}{trunk or '0'}{number}"
        if form == "formatted":
            try:
                parsed = phonenumbers.parse(f"+{code}{number}")
            except phonenumbers.NumberParseException:
                return f"+{code}{number}"
            style = rng.choice(
                (
                    phonenumbers.PhoneNumberFormat.NATIONAL,
                    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                    phonenumbers.PhoneNumberFormat.RFC3966,
                )
            )
            return phonenumbers.format_number(parsed, style)
        if form == "letters":
            written = self.grouped(trunk + number)
            return rng.choice(
                (
                    f"{written} ext. {rng.randint(1, 999)}",
                    f"{written} x{rng.randint(1, 99)}",
                    f"tel: {written}",
                    f"{written[:3]}-FLOWERS",
                    f"+{code} {number[:-3]}ABC",
                    f"call {written}",
                    f"{written}#",
                    f"{written};ext=12",
                    f"{written}, {written}",
                )
            )
        if form == "too_short":
            return self.grouped((trunk + number)[: rng.randint(0, 4)]) or rng.choice(
                ("+", "0", "1")
            )
        if form == "too_long":
            extra = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9)))
            return f"+{code}{number}{extra}"
        return rng.choice(JUNK)

    def pair(self) -> tuple[str, str]:
        rng = self.rng
        region = rng.choice(NUMBER_REGIONS)
        roll = rng.random()
        if roll < 0.55:
            country = region
        elif roll < 0.7:
            country = region.lower() if rng.random() < 0.7 else region.title()
        elif roll < 0.8:
            country = rng.choice(ODD_COUNTRIES)
        elif roll < 0.9:
            country = rng.choice(NUMBER_REGIONS)
        else:
            country = ""
        parse_region = country.strip().upper() or DEFAULT_REGION
        phone = self.phone(region, parse_region)
        return (
            rng.choice(PADDING) + phone + rng.choice(PADDING),
            rng.choice(PADDING) + country + rng.choice(PADDING) if country else country,
        )


def strip(value: str) -> str:
    """The models' trim: Python's whitespace plus zero-width space and BOM."""
    previous = None
    while previous != value:
        previous = value
        value = value.strip().strip(EXTRA_SPACE)
    return value


def reference(phone: str, country: str) -> str | None:
    """What the models must give: normalize_phone on the trimmed value in the row's region."""
    region = strip(country).upper() or DEFAULT_REGION
    return normalize_phone(strip(phone), region)


def write_inputs(path: Path, count: int, seed: int = SEED) -> list[tuple[str, str]]:
    """A members CSV with one generated phone per row; the audience name is the row index."""
    generator = PhoneInputs(seed)
    pairs = [generator.pair() for _ in range(count)]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["audience_name", "email", "phone", "phone_country", "device_id"])
        for index, (phone, country) in enumerate(pairs):
            writer.writerow([str(index), "", phone, country, ""])
    return pairs


def dbt_run_normalized(workdir: Path, members: Path) -> tuple[Path, Path]:
    """``dbt run`` of the normalized model and its parents; returns the database and the
    compiled SQL of the phone model (int_audience_phones_normalized)."""
    database = workdir / "phones.duckdb"
    target = workdir / "target"
    env = {**os.environ, "SPOTIFY_AUDIENCES_DUCKDB": str(database)}
    args = dbt_args(
        "run",
        ROOT,
        ROOT,
        "local",
        target_path=target,
        log_path=workdir / "logs",
        dbt_vars=f"{{audience_members_csv: '{members}'}}",
    )
    result = subprocess.run(
        [str(BIN / "dbt"), *args, "--select", "+int_audience_identifiers_normalized"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stdout[-4000:] + result.stderr[-2000:])
    compiled = next(target.glob("compiled/**/int_audience_phones_normalized.sql"))
    return database, compiled


def check_fast_path(workdir: Path, count: int) -> dict[str, object]:
    """Build, compare both ways, and return the figures; raises on any disagreement."""
    workdir.mkdir(parents=True, exist_ok=True)
    members = workdir / "phones.csv"
    started = time.perf_counter()
    pairs = write_inputs(members, count)
    database, compiled = dbt_run_normalized(workdir, members)
    built_seconds = time.perf_counter() - started

    con = duckdb.connect(str(database))
    try:
        built = dict(
            con.execute(
                "select audience_name, normalized_value from int_audience_identifiers_normalized "
                "where source_column = 'phone'"
            ).fetchall()
        )
        con.create_function(
            "normalize_phone",
            lambda _raw, _region: UDF_MARKER,
            [VARCHAR, VARCHAR],
            VARCHAR,
            null_handling="special",
            side_effects=False,
        )
        sql_only = dict(
            con.execute(
                "select members.audience_name, phones.phone_e164 "  # noqa: S608
                "from int_audience_identifiers_normalized as members "
                f"left join ({compiled.read_text()}) as phones "
                "using (identifier_value, phone_region) "
                "where members.source_column = 'phone'"
            ).fetchall()
        )
    finally:
        con.close()

    disagreements: list[tuple[str, str, str | None, str | None, str]] = []
    fast = Counter()
    for index, (phone, country) in enumerate(pairs):
        want = reference(phone, country)
        key = str(index)
        if not strip(phone):
            if key in built:
                disagreements.append((phone, country, built[key], None, "blank value built"))
            continue
        if built.get(key) != want:
            disagreements.append((phone, country, built.get(key), want, "built"))
        got = sql_only.get(key)
        if got == UDF_MARKER:
            fast["udf"] += 1
        else:
            fast["sql"] += 1
            if got != want:
                disagreements.append((phone, country, got, want, "fast path"))
    return {
        "inputs": count,
        "phones": fast["sql"] + fast["udf"],
        "fast_path_share": fast["sql"] / max(1, fast["sql"] + fast["udf"]),
        "seconds": built_seconds,
        "disagreements": disagreements,
    }
