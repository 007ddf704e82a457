"""The naive baseline of ``make bench``: the whole job in plain Python, one row at a time.

Read the members CSV, normalize each value (strip, lower-case, ``phonenumbers`` parse +
``is_valid_number`` + ``format_number`` per row, no cache), hash with ``hashlib.sha256``, keep
each audience's distinct ``(type, hash)`` pairs, and write one ``type,value`` file per audience
with ``csv.writer``, sorted as the sync sorts them. The files must come out byte for byte the
same as the pipeline's (``spotify-audiences sync --dry-run``); the bench checks that.

Usage: ``python scripts/bench_naive.py MEMBERS.csv OUTPUT_DIR [--default-region US]``
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import phonenumbers

EMAIL, PHONE, DEVICE = "EMAIL_ID_SHA256", "PHONE_NUMBER_SHA256", "DEVICE_ID_SHA256"
# The models' trim set: Python's whitespace plus zero-width space and BOM.
EXTRA_SPACE = "\u200b\ufeff"
WHITESPACE = frozenset([chr(c) for c in range(0x110000) if chr(c).isspace()] + list(EXTRA_SPACE))
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HEX64_PATTERN = re.compile(r"[0-9a-f]{64}")
PREHASHED = (("email_sha256", EMAIL), ("phone_sha256", PHONE), ("device_id_sha256", DEVICE))


def strip(value: str | None) -> str:
    """Surrounding whitespace off, as the models trim it."""
    if not value:
        return ""
    previous = None
    while previous != value:
        previous = value
        value = value.strip().strip(EXTRA_SPACE)
    return value


def sha(value: str) -> str:
    """SHA-256 of the UTF-8 bytes, lower-case hex."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def e164(raw: str, region: str) -> str | None:
    """phonenumbers parse + is_valid_number + format_number(E164), every call from scratch."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def file_name(name: str) -> str:
    """The file name the sync gives an audience: a slug plus 10 hex digits of the name's SHA-256."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60].strip("-") or "audience"
    return f"{slug}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:10]}.csv"


def run(members: Path, output: Path, default_region: str = "US") -> dict[str, int]:
    """Write the upload files of every audience; return row and identifier counts."""
    audiences: dict[str, set[tuple[str, str]]] = defaultdict(set)
    rows = 0
    with open(members, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rows += 1
            kept = audiences[strip(row["audience_name"])]
            email = strip(row["email"]).lower()
            if email and EMAIL_PATTERN.fullmatch(email) and not WHITESPACE.intersection(email):
                kept.add((EMAIL, sha(email)))
            phone = strip(row["phone"])
            if phone:
                normalized = e164(phone, strip(row["phone_country"]).upper() or default_region)
                if normalized:
                    kept.add((PHONE, sha(normalized)))
            device = strip(row["device_id"]).lower()
            if device and UUID_PATTERN.fullmatch(device):
                kept.add((DEVICE, sha(device)))
            for column, kind in PREHASHED:
                value = strip(row.get(column)).lower()
                if value and HEX64_PATTERN.fullmatch(value):
                    kept.add((kind, value))
    output.mkdir(parents=True, exist_ok=True)
    identifiers = 0
    for name, kept in audiences.items():
        with open(output / file_name(name), "w", newline="", encoding="ascii") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["type", "value"])
            writer.writerows(sorted(kept))
        identifiers += len(kept)
    return {"rows": rows, "identifiers": identifiers, "audiences": len(audiences)}


def main(argv: list[str] | None = None) -> int:
    """Run the baseline and print what it wrote."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("members", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--default-region", default="US")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = run(args.members, args.output, args.default_region)
    print(
        f"{counts['rows']:,} rows, {counts['identifiers']:,} identifiers in "
        f"{counts['audiences']} files, {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
