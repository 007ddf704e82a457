"""Status write-back: what Spotify says of each synced audience, appended to the warehouse."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from spotify_audiences.ads import AdsClient
from spotify_audiences.errors import SpotifyAudiencesError
from spotify_audiences.ledger import Ledger, StatusRecord

log = logging.getLogger(__name__)

LOW_MATCH_SHARE = 0.2


def advice(status: str | None, size_max: int | None, uploaded: int | None) -> str | None:
    """A hint for the states users ask about: still processing, empty, low match."""
    if status == "PROCESSING":
        return "Spotify is still matching the list; this can take up to three days."
    if status == "EMPTY" or (
        status in ("BOOKABLE", "LIVE", "LEARNING")
        and size_max is not None
        and uploaded
        and size_max < LOW_MATCH_SHARE * uploaded
    ):
        return (
            "Low match rate: check that emails are real addresses and that phones carry their "
            "country (phone_country or default_phone_region) so they normalize to E.164."
        )
    return None


def check_status(client: AdsClient, ledger: Ledger, ad_account_id: str) -> list[dict[str, Any]]:
    """GET every audience this ad account synced, append the rows, return them with advice."""
    now = datetime.now(UTC).replace(tzinfo=None)
    records, out = [], []
    for last in ledger.synced_audiences(ad_account_id):
        if not last.audience_id:
            continue
        try:
            audience = client.get_audience(ad_account_id, last.audience_id)
        except SpotifyAudiencesError as exc:
            log.warning("%s: %s", last.audience_name, exc)
            out.append(
                {
                    "audience_name": last.audience_name,
                    "audience_id": last.audience_id,
                    "ad_account_id": ad_account_id,
                    "status": None,
                    "error": str(exc),
                }
            )
            continue
        size = audience.get("size") or {}
        record = StatusRecord(
            checked_at=now,
            audience_name=last.audience_name,
            audience_id=last.audience_id,
            ad_account_id=ad_account_id,
            status=audience.get("status"),
            size_min=size.get("min"),
            size_max=size.get("max"),
            identifiers_uploaded=last.identifiers,
        )
        records.append(record)
        row = asdict(record)
        row["checked_at"] = now.isoformat(timespec="seconds")
        row["advice"] = advice(record.status, record.size_max, record.identifiers_uploaded)
        out.append(row)
    ledger.append_status(records)
    return out
