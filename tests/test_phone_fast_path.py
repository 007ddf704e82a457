"""The phone fast path agrees with phonenumbers on every input, and its rules are up to date.

The property test (generator and check in ``scripts/phone_property.py``) writes a members file
of generated phone numbers, runs the real models on DuckDB, and compares each member row, as
built and as the SQL fast path alone gives it, with phonenumbers.

``make test`` runs 50,000 inputs; ``PHONE_FAST_PATH_INPUTS=1000000`` (what ``make bench`` sets)
runs a million.
"""

from __future__ import annotations

import os
import random
import sys
from collections import Counter
from pathlib import Path

import pytest
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from spotify_audiences.udfs import phone_fast_path
from support import ROOT

# The generator and the check live in scripts/, where make bench runs them at a million inputs.
sys.path.insert(0, str(ROOT / "scripts"))
from phone_property import (
    NUMBER_REGIONS,
    SEED,
    PhoneInputs,
    check_fast_path,
    reference,
    region_metadata,
    strip,
)

INPUTS = int(os.environ.get("PHONE_FAST_PATH_INPUTS", "50000"))


def test_fast_path_agrees_with_phonenumbers_on_every_input(tmp_path: Path) -> None:
    figures = check_fast_path(tmp_path, INPUTS)
    disagreements = figures["disagreements"]
    assert not disagreements, (
        f"{len(disagreements)} disagreements; first ones (input, country, got, want, where): "
        f"{disagreements[:20]}"
    )
    # The generator makes about a third of the inputs hard on purpose (letters, odd regions,
    # regions without rules); the fast path must still carry most of them.
    assert figures["fast_path_share"] > 0.4, figures


def test_inputs_cover_every_format_and_at_least_ten_countries() -> None:
    generator = PhoneInputs(SEED)
    pairs = [generator.pair() for _ in range(5000)]
    phones = [strip(phone) for phone, _ in pairs]
    assert any(p.startswith("+") for p in phones)
    assert any(p.startswith("00") for p in phones)
    assert any("(0)" in p for p in phones)
    for separator in (" ", ".", "-", "(", ")", "/"):
        assert any(separator in p for p in phones), separator
    assert any(any(c.isalpha() for c in p) for p in phones)
    assert sum(phone != strip(phone) for phone, _ in pairs) > 500
    assert sum(bool(c.strip()) and c.strip() != c.strip().upper() for _, c in pairs) > 200
    regions = Counter(region_metadata(r).country_code for r in NUMBER_REGIONS)
    assert len(regions) >= 10
    results = Counter(reference(phone, country) is None for phone, country in pairs)
    assert results[True] > 500 and results[False] > 2500, results


def test_generated_rules_are_up_to_date() -> None:
    text = phone_fast_path.render_rules_macro(phone_fast_path.build_rules())
    assert phone_fast_path.RULES_PATH.read_text() == text, (
        "macros/phone_fast_path_rules.sql is out of date for the installed phonenumbers: run "
        "python -m spotify_audiences.udfs.phone_fast_path"
    )


@pytest.mark.parametrize(
    "pattern",
    [
        r"[2-9]\d{9}|3\d{6}",
        r"(?:1(?:1[0-9]|2[0-35-9])|[2-9]\d)\d{6,7}",
        r"0|180020",
        r"(183[12])|0",
        r"(000[2569]\d{4,6})$|(?:(?:003768)0?)|0",
    ],
)
def test_patterns_render_to_the_same_language(pattern: str) -> None:
    import re

    node = phone_fast_path.parse_pattern(pattern)
    rendered = phone_fast_path.render(node)
    assert "\\" not in rendered and "?:" not in rendered
    rng = random.Random(1)
    for _ in range(3000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 12)))
        assert bool(re.fullmatch(pattern, digits)) == bool(re.fullmatch(rendered, digits))


def test_prefix_helpers() -> None:
    parse = phone_fast_path.parse_pattern
    assert phone_fast_path.literals(parse("0|180020")) == {"0", "180020"}
    assert phone_fast_path.literals(parse("00(?:1[245]|99)")) == {"0012", "0014", "0015", "0099"}
    assert phone_fast_path.match_lengths(parse(r"[2-9]\d{2}(?:\d{2})?")) == {3, 5}
    assert phone_fast_path.can_start_with(parse(r"[2-9]\d{9}"), "1") is False
    assert phone_fast_path.can_start_with(parse(r"1\d{3}|20"), "20") is True
    assert phone_fast_path.can_start_with(parse(r"(?:12|3)4"), "123") is False
    with pytest.raises(phone_fast_path.PatternError):
        parse(r"\d+")


def test_every_calling_code_of_a_ruled_region_is_supported() -> None:
    rules = phone_fast_path.build_rules()
    for region in phone_fast_path.REGIONS:
        code = str(region_metadata(region).country_code)
        assert code in rules["calling_codes"]
        main_region = COUNTRY_CODE_TO_REGION_CODE[int(code)][0]
        assert rules["calling_codes"][code]["main_region"] == main_region
