"""The DuckDB email expressions of the models decide as the written rules, on random strings.

The models trim a value (``trim_whitespace``), lower-case it, test it (``is_valid_visible_email``)
and hash it. On DuckDB the first and the third are fast forms: a printable-ASCII check before an
anchored regex replacement instead of ``trim(x, characters)``, and one regex pass instead of the
validity regex, the whitespace test and the invisible-character test. This test runs those
expressions, as dbt compiles them for the local DuckDB target, on ``EMAIL_RULES_INPUTS``
(default 300,000) random strings and compares every trimmed value, decision and hash with

- the rules written in Python, sharing nothing with the SQL: strip what ``str.isspace()``
  accepts plus U+200B and U+FEFF (``oracle.strip``); exactly one ``@``, a non-empty local part,
  a domain of two or more non-empty dot-separated labels, no whitespace character and no code
  point of ``invisible_code_point_ranges()`` anywhere; SHA-256 of the UTF-8 bytes;
- the portable forms of the same macros run on DuckDB: ``trim(x, whitespace_characters())``
  (``snowflake__trim_whitespace``) and ``default__is_valid_email`` and not
  ``default__contains_invisible_character`` (``translate`` and lengths).

The strings mix ASCII letters and digits, ``@``, ``.``, ``-``, ``+``, punctuation, every
whitespace character, every invisible range (its ends and an inner code point) and random other
code points, some shaped like addresses and then perturbed, many with whitespace at either end.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from pathlib import Path

import duckdb
from oracle import strip
from support import ROOT, compile_inline

INPUTS = int(os.environ.get("EMAIL_RULES_INPUTS", "300000"))
SEED = 20261202

# Python's rule for whitespace (the docs' definition), not the macro's list
WHITESPACE = sorted({c for c in range(0x110000) if chr(c).isspace()} | {0x200B, 0xFEFF})
ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
PUNCTUATION = "!#$%&'*/=?^_`{|}~\"(),:;<>[\\]"

SELECT = """
select
    id,
    trimmed,
    {{ spotify_audiences.is_valid_visible_email('lowered') }} as is_valid,
    case
        when {{ spotify_audiences.is_valid_visible_email('lowered') }}
            then {{ spotify_audiences.sha256_hex('lowered') }}
    end as hash,
    trimmed_portably,
    (
        {{ spotify_audiences.default__is_valid_email('lowered') }}
        and not {{ spotify_audiences.default__contains_invisible_character('lowered') }}
    ) as is_valid_portably,
    reference_lowered
from (
    select *, lower(trimmed) as lowered
    from (
        select
            id,
            {{ spotify_audiences.trim_whitespace('x') }} as trimmed,
            {{ spotify_audiences.snowflake__trim_whitespace('x') }} as trimmed_portably,
            lower(reference_trimmed) as reference_lowered
        from strings
    ) as trimmed
) as lowered
order by id
"""


def invisible_ranges() -> list[tuple[int, int]]:
    text = (ROOT / "macros" / "contains_invisible_character.sql").read_text(encoding="utf-8")
    start = text.index("macro invisible_code_point_ranges")
    body = text[start : text.index("endmacro", start)]
    return [(int(first), int(last)) for first, last in re.findall(r"\[(\d+), (\d+)\]", body)]


class Strings:
    """Random strings around the email rules."""

    def __init__(self, seed: int, ranges: list[tuple[int, int]]) -> None:
        self.rng = random.Random(seed)
        self.invisible = [c for first, last in ranges for c in (first, last, (first + last) // 2)]

    def other(self) -> str:
        rng = self.rng
        while True:
            code_point = rng.choice(
                [
                    rng.randint(0x80, 0x2FFF),
                    rng.randint(0x3000, 0xFFFF),
                    rng.randint(0x10000, 0x10FFFF),
                    # letters whose lower case is special: Ä Ö İ K(Kelvin) ẞ ß Σ
                    rng.choice([0xC4, 0xD6, 0x130, 0x212A, 0x1E9E, 0xDF, 0x3A3]),
                ]
            )
            if not 0xD800 <= code_point <= 0xDFFF:
                return chr(code_point)

    def whitespace(self) -> str:
        return chr(self.rng.choice(WHITESPACE))

    def char(self) -> str:
        r = self.rng.random()
        if r < 0.55:
            return self.rng.choice(ASCII)
        if r < 0.63:
            return "@"
        if r < 0.73:
            return "."
        if r < 0.76:
            return self.rng.choice("-+")
        if r < 0.84:
            return self.whitespace()
        if r < 0.91:
            return chr(self.rng.choice(self.invisible))
        if r < 0.95:
            return self.rng.choice(PUNCTUATION)
        return self.other()

    def word(self, low: int, high: int) -> str:
        return "".join(self.rng.choice(ASCII) for _ in range(self.rng.randint(low, high)))

    def string(self) -> str:
        rng = self.rng
        if rng.random() < 0.4:
            value = "".join(self.char() for _ in range(rng.randint(0, 14)))
        else:
            # shaped like an address (labels may be empty), then perturbed
            labels = [self.word(0, 4) for _ in range(rng.randint(1, 3))]
            chars = list(self.word(1, 6) + "@" + ".".join(labels))
            for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
                position = rng.randint(0, len(chars))
                if rng.random() < 0.6:
                    chars.insert(position, self.char())
                else:
                    chars[min(position, len(chars) - 1)] = self.char()
            value = "".join(chars)
        if rng.random() < 0.35:
            value = "".join(self.whitespace() for _ in range(rng.randint(0, 3))) + value
        if rng.random() < 0.35:
            value += "".join(self.whitespace() for _ in range(rng.randint(0, 3)))
        if rng.random() < 0.05:
            end = rng.choice([self.other(), chr(rng.choice(self.invisible))])
            value = end + value + rng.choice(["", self.other()])
        return value


def reference_is_valid(value: str, forbidden: frozenset[int]) -> bool:
    """The email rule without a regular expression."""
    if any(ord(c) in forbidden for c in value) or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    labels = domain.split(".")
    return bool(local) and len(labels) >= 2 and all(labels)


def compile_select(workdir: Path) -> str:
    return compile_inline(SELECT, workdir)


def test_email_expressions_decide_as_the_rules_on_random_strings(tmp_path: Path) -> None:
    ranges = invisible_ranges()
    assert (0, 31) in ranges and (917504, 917631) in ranges, ranges
    forbidden = frozenset(WHITESPACE) | frozenset(
        c for first, last in ranges for c in range(first, last + 1)
    )
    generator = Strings(SEED, ranges)
    values = [generator.string() for _ in range(INPUTS)]
    trimmed = [strip(value) for value in values]

    connection = duckdb.connect()
    connection.execute(
        "create table strings as select unnest($1) as x, unnest($2) as reference_trimmed,"
        " unnest(range(len($1))) as id",
        [values, trimmed],
    )
    rows = connection.execute(compile_select(tmp_path)).fetchall()
    assert len(rows) == INPUTS

    differ = []
    counts = {"valid": 0, "trimmed": 0, "invisible only": 0, "non-ASCII valid": 0}
    for value, reference_trimmed, row in zip(values, trimmed, rows, strict=True):
        _, got_trimmed, got_valid, got_hash, portable_trimmed, portable_valid, lowered = row
        valid = reference_is_valid(lowered, forbidden)
        want = (
            reference_trimmed,
            valid,
            hashlib.sha256(lowered.encode()).hexdigest() if valid else None,
        )
        if (got_trimmed, got_valid, got_hash) != want or portable_trimmed != reference_trimmed:
            differ.append((value, (got_trimmed, got_valid, got_hash), want, portable_trimmed))
        # the portable translate() form leaves out chr(0), which SQL literals cannot hold
        elif "\x00" not in lowered and portable_valid != valid:
            differ.append((value, "portable", portable_valid, valid))
        counts["valid"] += valid
        counts["trimmed"] += reference_trimmed != value
        counts["non-ASCII valid"] += valid and not lowered.isascii()
        counts["invisible only"] += not valid and reference_is_valid(
            "".join(c for c in lowered if ord(c) not in forbidden - frozenset(WHITESPACE)),
            frozenset(WHITESPACE),
        )
    assert differ == [], f"{len(differ)} differences, the first: {differ[:10]}"
    # the strings reach every side of the rules
    assert counts["valid"] > INPUTS // 10, counts
    assert counts["trimmed"] > INPUTS // 4, counts
    assert counts["invisible only"] > INPUTS // 100, counts
    assert counts["non-ASCII valid"] > INPUTS // 200, counts
