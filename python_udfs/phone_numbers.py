"""Phone number normalization to E.164, shared by every warehouse that runs the models.

This module is self-contained on purpose: it imports only ``phonenumbers`` so the same file can
be registered in DuckDB (see ``duckdb_plugin``) and staged as a Snowflake Python UDF handler.
"""

import functools

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
