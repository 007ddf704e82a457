"""The sync ledger: every sync attempt, the last uploaded set and status checks, in the warehouse.

Three tables live next to the marts:

* ``spotify_audience_sync_log``: one row per audience per sync attempt (created, replaced,
  unchanged, refused, failed), with counts, the file's size and fingerprint, and for failures
  the error class, message and Spotify ``sp_trace_id``;
* ``spotify_audience_uploaded_hashes``: the hashed set last uploaded for each audience (hashes
  only), so that a dry run can say what a sync would add and remove;
* ``spotify_audience_status``: status and size range appended by ``spotify-audiences status``.

No raw identifier, token or URL is ever written: the rows hold counts, hashes, ids and messages
that the core composed itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

SYNC_LOG = "spotify_audience_sync_log"
UPLOADED = "spotify_audience_uploaded_hashes"
STATUS = "spotify_audience_status"


@dataclass
class SyncRecord:
    """One row of the sync log."""

    run_id: str
    started_at: datetime
    finished_at: datetime
    audience_name: str
    ad_account_id: str | None
    action: str
    audience_id: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    identifiers: int = 0
    bytes: int = 0
    fingerprint: str | None = None
    upload_id: str | None = None
    error_class: str | None = None
    error_message: str | None = None
    sp_trace_id: str | None = None

    def as_row(self) -> list[Any]:
        """The values in the sync log's column order (counts and rejects as JSON text)."""
        return [
            self.run_id,
            self.started_at,
            self.finished_at,
            self.audience_name,
            self.ad_account_id,
            self.action,
            self.audience_id,
            json.dumps(self.counts, sort_keys=True),
            json.dumps(self.rejected, sort_keys=True),
            self.identifiers,
            self.bytes,
            self.fingerprint,
            self.upload_id,
            self.error_class,
            self.error_message,
            self.sp_trace_id,
        ]


@dataclass(frozen=True)
class StatusRecord:
    """One row of the status table."""

    checked_at: datetime
    audience_name: str
    audience_id: str
    ad_account_id: str
    status: str | None
    size_min: int | None
    size_max: int | None
    identifiers_uploaded: int | None


class Ledger(Protocol):
    """Where sync history lives; one implementation per warehouse."""

    def last_success(self, ad_account_id: str | None, audience_name: str) -> SyncRecord | None:
        """The latest created/replaced/unchanged row for this audience, or None."""
        ...

    def record(self, row: SyncRecord) -> None:
        """Append one sync-log row."""
        ...

    def store_uploaded(self, ad_account_id: str, audience_name: str, csv_path: Path) -> None:
        """Replace the remembered uploaded set with the rows of the file just uploaded."""
        ...

    def diff(self, ad_account_id: str | None, audience_name: str) -> tuple[int, int] | None:
        """(added, removed) hashes of the mart against the last uploaded set; None if none."""
        ...

    def append_status(self, rows: Sequence[StatusRecord]) -> None:
        """Append status rows."""
        ...

    def synced_audiences(self, ad_account_id: str) -> list[SyncRecord]:
        """The latest successful row of every audience synced to this ad account."""
        ...


_LOG_COLUMNS = (
    "run_id varchar, started_at timestamp, finished_at timestamp, audience_name varchar, "
    "ad_account_id varchar, action varchar, audience_id varchar, counts varchar, "
    "rejected varchar, identifiers bigint, bytes bigint, fingerprint varchar, upload_id varchar, "
    "error_class varchar, error_message varchar, sp_trace_id varchar"
)
_UPLOADED_COLUMNS = (
    "ad_account_id varchar, audience_name varchar, identifier_type varchar, "
    "identifier_sha256 varchar"
)
_STATUS_COLUMNS = (
    "checked_at timestamp, audience_name varchar, audience_id varchar, ad_account_id varchar, "
    "status varchar, size_min bigint, size_max bigint, identifiers_uploaded bigint"
)
SUCCESS_ACTIONS = ("created", "replaced", "unchanged")


class DuckDBLedger:
    """The ledger in the local DuckDB database, beside the marts."""

    def __init__(self, connection: Any, *, schema: str = "main", mart: str) -> None:
        self._con = connection
        self._schema = schema
        self._mart = mart
        for table, columns in (
            (SYNC_LOG, _LOG_COLUMNS),
            (UPLOADED, _UPLOADED_COLUMNS),
            (STATUS, _STATUS_COLUMNS),
        ):
            self._con.execute(f"create table if not exists {self._rel(table)} ({columns})")

    def _rel(self, table: str) -> str:
        return f'"{self._schema}"."{table}"'

    def last_success(self, ad_account_id: str | None, audience_name: str) -> SyncRecord | None:
        """The latest successful row."""
        cursor = self._con.execute(
            f"select * from {self._rel(SYNC_LOG)} "  # noqa: S608 - fixed identifiers
            "where audience_name = ? and ad_account_id is not distinct from ? "
            "and action in ('created', 'replaced', 'unchanged') "
            "order by finished_at desc limit 1",
            [audience_name, ad_account_id],
        )
        row = cursor.fetchone()
        if row is None:
            return None
        names = [d[0] for d in cursor.description]
        values = dict(zip(names, row, strict=True))
        values["counts"] = json.loads(values["counts"] or "{}")
        values["rejected"] = json.loads(values["rejected"] or "{}")
        return SyncRecord(**values)

    def record(self, row: SyncRecord) -> None:
        """Append one row."""
        self._con.execute(
            f"insert into {self._rel(SYNC_LOG)} values "  # noqa: S608
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row.as_row(),
        )

    def store_uploaded(self, ad_account_id: str, audience_name: str, csv_path: Path) -> None:
        """Keep exactly the uploaded rows (read back from the file that went up)."""
        self._con.execute("begin transaction")
        try:
            self._con.execute(
                f"delete from {self._rel(UPLOADED)} "  # noqa: S608
                "where ad_account_id = ? and audience_name = ?",
                [ad_account_id, audience_name],
            )
            self._con.execute(
                f"insert into {self._rel(UPLOADED)} "  # noqa: S608
                "select ?, ?, type, value from read_csv(?, header = true, "
                "columns = {'type': 'varchar', 'value': 'varchar'})",
                [ad_account_id, audience_name, str(csv_path)],
            )
            self._con.execute("commit")
        except Exception:
            self._con.execute("rollback")
            raise

    def diff(self, ad_account_id: str | None, audience_name: str) -> tuple[int, int] | None:
        """Anti-joins between the mart and the last uploaded set."""
        known = self._con.execute(
            f"select count(*) from {self._rel(UPLOADED)} "  # noqa: S608
            "where ad_account_id is not distinct from ? and audience_name = ?",
            [ad_account_id, audience_name],
        ).fetchone()
        if not known or not known[0]:
            return None
        row = self._con.execute(
            f"""
            with current_set as (
                select identifier_type, identifier_sha256 from {self._rel(self._mart)}
                where audience_name = $name
            ),
            uploaded as (
                select identifier_type, identifier_sha256 from {self._rel(UPLOADED)}
                where ad_account_id is not distinct from $account and audience_name = $name
            )
            select
                (select count(*) from (select * from current_set except select * from uploaded)),
                (select count(*) from (select * from uploaded except select * from current_set))
            """,  # noqa: S608
            {"name": audience_name, "account": ad_account_id},
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def append_status(self, rows: Sequence[StatusRecord]) -> None:
        """Append status rows."""
        for r in rows:
            self._con.execute(
                f"insert into {self._rel(STATUS)} values (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                [
                    r.checked_at,
                    r.audience_name,
                    r.audience_id,
                    r.ad_account_id,
                    r.status,
                    r.size_min,
                    r.size_max,
                    r.identifiers_uploaded,
                ],
            )

    def synced_audiences(self, ad_account_id: str) -> list[SyncRecord]:
        """The latest successful row of every audience synced to this ad account."""
        names = self._con.execute(
            f"select distinct audience_name from {self._rel(SYNC_LOG)} "  # noqa: S608
            "where ad_account_id = ? and action in ('created', 'replaced', 'unchanged') "
            "order by 1",
            [ad_account_id],
        ).fetchall()
        found = [self.last_success(ad_account_id, n) for (n,) in names]
        return [r for r in found if r is not None]
