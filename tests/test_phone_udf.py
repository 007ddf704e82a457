"""The Snowflake (vectorized) phone handler answers exactly as the per-row one DuckDB uses."""

from __future__ import annotations

import math

import pandas
from spotify_audiences.udfs.phone_numbers import normalize_phone, normalize_phone_batch

INPUTS = [
    ("(212) 555-0123", "US"),
    ("+44 20 7946 0958", None),
    ("020 7946 0958", "GB"),
    ("030 123456", "de"),
    ("12345", "US"),
    ("call me", "US"),
    (None, "US"),
    (math.nan, "US"),
    ("+1 212 555 0123", math.nan),
    ("  0151 23456789 ", "DE"),
]


def test_batch_handler_equals_the_row_handler():
    batch = pandas.DataFrame({0: [r for r, _ in INPUTS], 1: [c for _, c in INPUTS]})
    got = list(normalize_phone_batch(batch))
    want = [
        normalize_phone(r if isinstance(r, str) else None, c if isinstance(c, str) else None)
        for r, c in INPUTS
    ]
    assert got == want
    assert got[0] == "+12125550123" and got[6] is None and got[7] is None
