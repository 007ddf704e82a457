"""Members files the project has never seen, made up by the tests themselves."""

from __future__ import annotations

import csv
import hashlib
import random
import uuid
from pathlib import Path

import phonenumbers

from spotify_audiences.project import MEMBER_COLUMNS

COLUMNS = list(MEMBER_COLUMNS)

_PHONES = {
    # region: (country code, national significant number lengths, formats)
    "US": ("1", [10], ["({a}) {b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "1-{a}-{b}-{c}"]),
    "GB": ("44", [10], ["0{n}", "+44 {n}", "+44 (0){n}", "0044 {n}"]),
    "DE": ("49", [10, 11], ["0{n}", "+49 {n}", "0049-{n}"]),
    "FR": ("33", [9], ["0{n}", "+33 {n}", "+33.{n}"]),
    "JP": ("81", [10], ["0{n}", "+81-{n}"]),
}


def _digits(rng: random.Random, region: str, lengths: list[int]) -> str:
    """National digits; mostly ones that a real exchange could have issued."""
    for _ in range(200):
        digits = str(rng.randint(2, 9)) + "".join(
            str(rng.randint(0, 9)) for _ in range(rng.choice(lengths) - 1)
        )
        if rng.random() < 0.1:
            return digits  # whatever it is: the oracle decides
        if phonenumbers.is_valid_number(phonenumbers.parse(digits, region)):
            return digits
    return digits


def _phone(rng: random.Random) -> tuple[str, str]:
    region = rng.choice(list(_PHONES))
    _, lengths, formats = _PHONES[region]
    digits = _digits(rng, region, lengths)
    template = rng.choice(formats)
    phone = template.format(a=digits[:3], b=digits[3:6], c=digits[6:], n=digits)
    country = rng.choice([region, region.lower(), ""]) if region != "US" else rng.choice(["US", ""])
    if not country and region != "US" and not phone.startswith(("+", "00")):
        country = region
    return phone, country


def _pad(rng: random.Random, value: str) -> str:
    return (
        rng.choice(["", " ", "\t", "\u00a0", "  "]) + value + rng.choice(["", " ", "\n", "\u00a0"])
    )


def write_members(path: Path, *, seed: int, audiences: dict[str, int]) -> Path:
    """Write a messy members CSV: ``audiences`` maps each audience name to its row count."""
    rng = random.Random(seed)
    people = [f"person{seed}-{i}" for i in range(max(audiences.values()) * 2)]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for audience, rows in audiences.items():
            for _ in range(rows):
                who = rng.choice(people)
                row = dict.fromkeys(COLUMNS, "")
                row["audience_name"] = audience
                roll = rng.random()
                if roll < 0.85:
                    email = f"{who}@example.{rng.choice(['com', 'org', 'net'])}"
                    if rng.random() < 0.5:
                        email = email.upper() if rng.random() < 0.3 else email.title()
                    row["email"] = _pad(rng, email)
                elif roll < 0.92:
                    row["email"] = rng.choice(
                        [f"{who}example.com", f"{who}@@example.com", f"{who}@localhost", "n/a"]
                    )
                if rng.random() < 0.6:
                    row["phone"], row["phone_country"] = _phone(rng)
                elif rng.random() < 0.1:
                    row["phone"] = rng.choice(["12345", "call me", "+1 (555)", "000"])
                if rng.random() < 0.3:
                    device = str(uuid.UUID(int=rng.getrandbits(128)))
                    row["device_id"] = _pad(rng, device.upper() if rng.random() < 0.5 else device)
                elif rng.random() < 0.05:
                    row["device_id"] = rng.choice(["not-a-device", "1234"])
                if rng.random() < 0.1:
                    digest = hashlib.sha256(f"{who}@hashed.example".encode()).hexdigest()
                    row["email_sha256"] = digest.upper() if rng.random() < 0.5 else digest
                if rng.random() < 0.02:
                    row["phone_sha256"] = "deadbeef"
                writer.writerow([row[c] for c in COLUMNS])
    return path
