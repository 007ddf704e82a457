"""What a caller of the owner's-rights sync procedure may ask for, fixed when setup creates it.

The procedure runs ``execute as owner``: it reads with its owner's privileges and holds the
Spotify access token. Anyone with USAGE on it may pass ``mart_schema``, ``ad_account_id`` and
``options``, so in Snowflake:

- the mart schemas and the ad accounts it serves are an allow-list written into the procedure's
  own handler by ``spotify-audiences snowflake-setup`` (owned by the owner role, which no caller
  can change);
- the endpoints are Spotify's: ``ads_api_url`` / ``accounts_url`` are honoured only in Snowpark
  local testing, where the tests point them at the sandbox. Otherwise a request carrying the
  access token could be sent to any URL on the allowed hosts (``storage.googleapis.com`` serves
  every bucket);
- a handler without an allow-list (registered by hand) refuses to run outside local testing.

The guard runs before anything is read or sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spotify_audiences.config import validate_uuid
from spotify_audiences.errors import ConfigError

log = logging.getLogger(__name__)

ENDPOINT_OPTIONS = ("ads_api_url", "accounts_url")
_FIX = "The allow-list is fixed at setup: re-run `spotify-audiences snowflake-setup` with it."


def normalize_schema(name: str) -> str:
    """``database.schema`` as Snowflake resolves it: unquoted parts upper-cased."""
    parts = [p.strip() for p in name.strip().split(".")]
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"The mart schema {name!r} must be database.schema.")
    return ".".join(p[1:-1] if p.startswith('"') and p.endswith('"') else p.upper() for p in parts)


@dataclass(frozen=True)
class ProcedurePolicy:
    """The mart schemas (first: the default) and ad accounts (first: the default) allowed."""

    mart_schemas: tuple[str, ...]
    ad_account_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.mart_schemas:
            raise ConfigError("The procedure needs at least one allowed mart schema.")
        object.__setattr__(
            self, "mart_schemas", tuple(normalize_schema(s) for s in self.mart_schemas)
        )
        object.__setattr__(
            self,
            "ad_account_ids",
            tuple(validate_uuid(a, what="An allowed ad account id") for a in self.ad_account_ids),
        )

    def mart_schema(self, requested: str | None) -> str:
        """The schema to read: the default, or an allowed one; anything else is refused."""
        if requested is None:
            return self.mart_schemas[0]
        schema = normalize_schema(requested)
        if schema not in self.mart_schemas:
            raise ConfigError(
                f"This procedure may not read the mart schema {requested!r}; it serves "
                f"{', '.join(self.mart_schemas)}. {_FIX}"
            )
        return schema

    def ad_account_id(self, requested: str | None) -> str | None:
        """The ad account to sync to: the default, or an allowed one; else refused."""
        if requested is None:
            return self.ad_account_ids[0] if self.ad_account_ids else None
        account = requested.strip().lower()
        if account not in self.ad_account_ids:
            allowed = ", ".join(self.ad_account_ids) or "none"
            raise ConfigError(
                f"This procedure may not sync to the ad account {requested!r}; allowed: "
                f"{allowed}. {_FIX}"
            )
        return account


def in_local_testing(session: Any) -> bool:
    """True in Snowpark local testing (the tests), never inside Snowflake."""
    connection = getattr(session, "_conn", None)
    return type(connection).__name__ == "MockServerConnection" and type(
        connection
    ).__module__.startswith("snowflake.snowpark.mock")


def guard(
    session: Any,
    policy: ProcedurePolicy | None,
    mart_schema: str | None,
    ad_account_id: str | None,
    options: Mapping[str, Any] | None,
) -> tuple[str | None, str | None]:
    """Check a call against the policy; answer the mart schema and ad account to use.

    Raises :class:`ConfigError` for a schema or account outside the allow-list (also in local
    testing, when a policy is given), for an endpoint override outside local testing, and for
    a handler without a policy outside local testing.
    """
    local = in_local_testing(session)
    if not local:
        overrides = sorted(k for k in ENDPOINT_OPTIONS if (options or {}).get(k) is not None)
        if overrides:
            raise ConfigError(
                f"The option(s) {', '.join(overrides)} exist only in Snowpark local testing; "
                "in Snowflake the procedure talks to Spotify's own endpoints."
            )
        if policy is None:
            raise ConfigError(
                "This procedure has no allow-list of mart schemas and ad accounts: create it "
                f"with `spotify-audiences snowflake-setup`. {_FIX}"
            )
    if policy is None:
        return mart_schema, ad_account_id
    schema = policy.mart_schema(mart_schema)
    account = policy.ad_account_id(ad_account_id)
    audiences = ((options or {}).get("config") or {}).get("audiences") or {}
    for name, settings in audiences.items() if isinstance(audiences, Mapping) else ():
        configured = (
            (settings or {}).get("ad_account_id") if isinstance(settings, Mapping) else None
        )
        if configured:
            try:
                policy.ad_account_id(str(configured))
            except ConfigError as exc:
                raise ConfigError(f"Audience {name!r}: {exc}") from None
    return schema, account
