"""Phone number normalization to E.164, shared by every warehouse that runs the models.

This module is self-contained on purpose: it imports only ``phonenumbers`` (and ``pandas``
inside Snowflake) so the same file can be registered in DuckDB (see ``duckdb_plugin``) and
staged as a Snowflake Python UDF handler. The models call it only for the numbers the SQL fast
path (``macros/phone_fast_path.sql``) leaves to it.

Handlers:

- ``normalize_phone``: scalar, one value per call (DuckDB, and a row-by-row Snowflake UDF).
- ``normalize_phone_batch``: vectorized, a pandas DataFrame of (raw, region) rows per call;
  inside Snowflake it is marked with ``_snowflake.vectorized``, so Snowflake sends it batches
  and a warehouse spreads them over its nodes.
"""

from __future__ import annotations

import functools
from typing import Any

import phonenumbers


@functools.lru_cache(maxsize=65_536)
def normalize_phone(raw: str | None, region: str | None) -> str | None:
    """Return ``raw`` as an E.164 number with its leading ``+``, or ``None`` if it is not valid.

    ``region`` is the ISO 3166 alpha-2 country used to read national numbers (``020 7946 0123``
    with ``GB``); numbers written with ``+`` or an international prefix carry their own country.
    Anything ``phonenumbers`` cannot parse, or parses to a number that is not valid for its
    country, gives ``None``.

    >>> normalize_phone("(212) 555-0123", "US")
    '+12125550123'
    >>> normalize_phone("call me", "US") is None
    True
    """
    if raw is None:
        return None
    try:
        number = phonenumbers.parse(raw, region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone_batch(batch: Any) -> Any:
    """``normalize_phone`` over a pandas DataFrame: column 0 the raw value, 1 the region.

    Returns a pandas Series of E.164 strings and ``None``, one per row. SQL nulls may arrive
    as ``None`` or NaN; both are read as null.

    >>> import pandas
    >>> batch = pandas.DataFrame({0: ["(212) 555-0123", None], 1: ["US", "US"]})
    >>> list(normalize_phone_batch(batch))
    ['+12125550123', None]
    """
    import pandas

    raws, regions = batch[0].tolist(), batch[1].tolist()
    return pandas.Series(
        [
            normalize_phone(
                raw if isinstance(raw, str) else None,
                region if isinstance(region, str) else None,
            )
            for raw, region in zip(raws, regions, strict=True)
        ],
        index=batch.index,
        dtype=object,
    )


try:  # Inside Snowflake only: mark the batch handler as a vectorized UDF handler.
    import _snowflake  # type: ignore[import-not-found]
except ImportError:
    pass
else:
    import pandas

    normalize_phone_batch = _snowflake.vectorized(input=pandas.DataFrame)(normalize_phone_batch)
