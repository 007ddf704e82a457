"""The test oracle: what Spotify should receive for a members CSV, computed independently.

This is written from the product's normalization contract with the standard library and
``phonenumbers`` only; it shares no code with the dbt models or the ``spotify_audiences``
package, so a misreading in either shows up as a difference.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import defaultdict
from pathlib import Path

import phonenumbers

_EXTRA_SPACE = "\u200b\ufeff"
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX64 = re.compile(r"[0-9a-f]{64}")

EMAIL, PHONE, DEVICE = "EMAIL_ID_SHA256", "PHONE_NUMBER_SHA256", "DEVICE_ID_SHA256"


def strip(value: str | None) -> str:
    """Python's notion of surrounding whitespace, plus zero-width space and BOM."""
    if value is None:
        return ""
    previous = None
    while previous != value:
        previous = value
        value = value.strip().strip(_EXTRA_SPACE)
    return value


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def e164(raw: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def expected(path: Path, default_region: str = "US") -> dict[str, dict]:
    """Per audience: the set of (type, hash) to upload and the rejected count per type."""
    result: dict[str, dict] = defaultdict(lambda: {"members": set(), "rejected": defaultdict(int)})
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            audience = result[strip(row["audience_name"])]
            members, rejected = audience["members"], audience["rejected"]
            email = strip(row.get("email")).lower()
            if email:
                if _EMAIL.fullmatch(email):
                    members.add((EMAIL, sha(email)))
                else:
                    rejected[EMAIL] += 1
            phone = strip(row.get("phone"))
            if phone:
                region = strip(row.get("phone_country")).upper() or default_region
                normalized = e164(phone, region)
                if normalized:
                    members.add((PHONE, sha(normalized)))
                else:
                    rejected[PHONE] += 1
            device = strip(row.get("device_id")).lower()
            if device:
                if _UUID.fullmatch(device):
                    members.add((DEVICE, sha(device)))
                else:
                    rejected[DEVICE] += 1
            for column, kind in (
                ("email_sha256", EMAIL),
                ("phone_sha256", PHONE),
                ("device_id_sha256", DEVICE),
            ):
                hashed = strip(row.get(column)).lower()
                if hashed:
                    if _HEX64.fullmatch(hashed):
                        members.add((kind, hashed))
                    else:
                        rejected[kind] += 1
    return dict(result)
