"""The sync ledger: every sync attempt, the last uploaded set and status checks, in the warehouse.

Three tables live next to the marts:

* ``spotify_audience_sync_log``: append-only, one row per step of a sync attempt: ``pending``
  (written before anything is sent: the intent, with the fingerprint about to be uploaded),
  then the outcome (created, replaced, unchanged, refused, failed), with counts, the file's
  size and fingerprint, and for failures the error class, message and Spotify
  ``sp_trace_id``; ``retired`` rows record ``sync --retire``;
* ``spotify_audience_uploaded_hashes``: the hashed set last uploaded for each audience (hashes
  only), so that a dry run can say what a sync would add and remove;
* ``spotify_audience_status``: status and size range appended by ``spotify-audiences status``.

:data:`LEDGER_TABLES` defines their columns once: :class:`SqlLedger` (DuckDB and the Snowflake
connector) and the Snowpark ledger of the procedure create them from it.

A ``pending`` row that no outcome followed (the process was killed, or the outcome is unknown)
is the latest attempt of its audience: the next sync cannot skip the upload as "unchanged",
because Spotify may hold either set. Only a completed success that is the latest attempt
allows the skip (:meth:`Ledger.last_attempt`).

No raw identifier, token or URL is ever written: the rows hold counts, hashes, ids and messages
that the core composed itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
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
    # True: the last build's tests failed and the sync ran with --ignore-test-failures;
    # None: the test gate did not apply (the dbt post-hook, which dbt's DAG gates).
    ignored_test_failures: bool | None = None
    # Identifiers removed by the suppression list, by type (from the summary mart)
    suppressed: dict[str, int] = field(default_factory=dict)

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
            self.ignored_test_failures,
            json.dumps(self.suppressed, sort_keys=True),
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
        """The latest created/replaced/unchanged row, or None (also when retired since)."""
        ...

    def last_attempt(self, ad_account_id: str | None, audience_name: str) -> SyncRecord | None:
        """The latest pending, created, replaced, unchanged or retired row, or None."""
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

    def accounts(self) -> list[str]:
        """Every ad account that an audience was synced to, sorted."""
        ...


@dataclass(frozen=True)
class Column:
    """One ledger column; ``type`` is one of varchar, timestamp, bigint, boolean."""

    name: str
    type: str


def _columns(spec: str) -> tuple[Column, ...]:
    return tuple(Column(*item.split()) for item in spec.split(","))


# The ledger's tables and their columns, in order: the one definition that the SQL ledger
# (DuckDB, the Snowflake connector) and the Snowpark ledger create their tables from.
LEDGER_TABLES: dict[str, tuple[Column, ...]] = {
    SYNC_LOG: _columns(
        "run_id varchar, started_at timestamp, finished_at timestamp, audience_name varchar, "
        "ad_account_id varchar, action varchar, audience_id varchar, counts varchar, "
        "rejected varchar, identifiers bigint, bytes bigint, fingerprint varchar, "
        "upload_id varchar, error_class varchar, error_message varchar, sp_trace_id varchar, "
        "ignored_test_failures boolean, suppressed varchar"
    ),
    UPLOADED: _columns(
        "ad_account_id varchar, audience_name varchar, identifier_type varchar, "
        "identifier_sha256 varchar"
    ),
    STATUS: _columns(
        "checked_at timestamp, audience_name varchar, audience_id varchar, "
        "ad_account_id varchar, status varchar, size_min bigint, size_max bigint, "
        "identifiers_uploaded bigint"
    ),
}
SUCCESS_ACTIONS = ("created", "replaced", "unchanged")
PENDING = "pending"
RETIRED = "retired"
# The rows that say what Spotify holds (or may hold) for an audience
ATTEMPT_ACTIONS = (PENDING, *SUCCESS_ACTIONS, RETIRED)


def status_row(record: StatusRecord) -> list[Any]:
    """A status record's values in the status table's column order."""
    return [getattr(record, column.name) for column in LEDGER_TABLES[STATUS]]


def sync_record(values: dict[str, Any]) -> SyncRecord:
    """A sync-log row read back (column names in any case) as a :class:`SyncRecord`."""
    values = {k.lower(): v for k, v in values.items()}
    values["counts"] = json.loads(values["counts"] or "{}")
    values["rejected"] = json.loads(values["rejected"] or "{}")
    values["suppressed"] = json.loads(values.get("suppressed") or "{}")
    values["identifiers"] = int(values["identifiers"] or 0)
    values["bytes"] = int(values["bytes"] or 0)
    known = set(SyncRecord.__dataclass_fields__)
    return SyncRecord(**{k: v for k, v in values.items() if k in known})


class SqlLedger:
    """The ledger beside the marts through a DB-API connection: DuckDB or the Snowflake connector.

    ``schema`` is the rendered ``database.schema`` (or ``schema``) of the summary mart,
    ``mart`` the rendered relation of the identifiers mart, and ``quote`` renders one
    identifier as the engine needs it. The SQL is common to both engines (``?`` parameters);
    only the copy of the uploaded set differs: DuckDB reads back the file that went up,
    Snowflake copies the mart's rows, which the file was written from moments ago.
    """

    def __init__(
        self,
        connection: Any,
        *,
        schema: str,
        mart: str,
        dialect: str = "duckdb",
        quote: Callable[[str], str] | None = None,
        read_only: bool = False,
    ) -> None:
        self._cursor = connection.cursor()
        self._schema = schema
        self._mart = mart
        self._dialect = dialect
        self._quote = quote or (lambda name: f'"{name}"')
        self.read_only = read_only
        self._absent: set[str] = set()
        if read_only:  # a dry run: read what is there, create nothing
            for table in LEDGER_TABLES:
                try:
                    self._run(f"select * from {self._rel(table)} limit 0")  # noqa: S608
                except Exception:
                    self._absent.add(table)
            return
        for table, columns in LEDGER_TABLES.items():
            ddl = ", ".join(f"{c.name} {c.type}" for c in columns)
            self._run(f"create table if not exists {self._rel(table)} ({ddl})")
            probe = f"select * from {self._rel(table)} limit 0"  # noqa: S608
            present = {d[0].lower() for d in self._run(probe).description}
            for column in columns:
                if column.name not in present:  # a ledger written by an older version
                    self._run(
                        f"alter table {self._rel(table)} add column {column.name} {column.type}"
                    )

    def _rel(self, table: str) -> str:
        return f"{self._schema}.{self._quote(table)}"

    def _run(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        if params is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, list(params))
        return self._cursor

    def _insert(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        names = [c.name for c in LEDGER_TABLES[table]]
        sql = (
            f"insert into {self._rel(table)} ({', '.join(names)}) "  # noqa: S608
            f"values ({', '.join('?' * len(names))})"
        )
        for row in rows:
            self._run(sql, row)

    def _latest(
        self, ad_account_id: str | None, audience_name: str, actions: Sequence[str]
    ) -> SyncRecord | None:
        if SYNC_LOG in self._absent:
            return None
        # A pending row and its outcome can share a timestamp: the outcome is the later one.
        cursor = self._run(
            f"select * from {self._rel(SYNC_LOG)} "  # noqa: S608 - fixed identifiers
            "where audience_name = ? and ad_account_id is not distinct from ? "
            f"and action in ({', '.join('?' * len(actions))}) "
            "order by finished_at desc, case when action = 'pending' then 0 else 1 end desc "
            "limit 1",
            [audience_name, ad_account_id, *actions],
        )
        row = cursor.fetchone()
        if row is None:
            return None
        names = [d[0] for d in cursor.description]
        return sync_record(dict(zip(names, row, strict=True)))

    def last_success(self, ad_account_id: str | None, audience_name: str) -> SyncRecord | None:
        """The latest successful row, unless the audience was retired after it."""
        found = self._latest(ad_account_id, audience_name, (*SUCCESS_ACTIONS, RETIRED))
        return found if found is not None and found.action in SUCCESS_ACTIONS else None

    def last_attempt(self, ad_account_id: str | None, audience_name: str) -> SyncRecord | None:
        """The latest row that says what Spotify holds or may hold."""
        return self._latest(ad_account_id, audience_name, ATTEMPT_ACTIONS)

    def record(self, row: SyncRecord) -> None:
        """Append one row."""
        self._insert(SYNC_LOG, [row.as_row()])

    def store_uploaded(self, ad_account_id: str, audience_name: str, csv_path: Path) -> None:
        """Keep exactly the uploaded rows, in one transaction."""
        self._run("begin transaction")
        try:
            self._run(
                f"delete from {self._rel(UPLOADED)} "  # noqa: S608
                "where ad_account_id = ? and audience_name = ?",
                [ad_account_id, audience_name],
            )
            if self._dialect == "duckdb":
                self._run(
                    f"insert into {self._rel(UPLOADED)} "  # noqa: S608
                    "select ?, ?, type, value from read_csv(?, header = true, "
                    "columns = {'type': 'varchar', 'value': 'varchar'})",
                    [ad_account_id, audience_name, str(csv_path)],
                )
            else:
                self._run(
                    f"insert into {self._rel(UPLOADED)} "  # noqa: S608
                    "select ?, audience_name, identifier_type, identifier_sha256 "
                    f"from {self._mart} where audience_name = ?",
                    [ad_account_id, audience_name],
                )
            self._run("commit")
        except Exception:
            self._run("rollback")
            raise

    def diff(self, ad_account_id: str | None, audience_name: str) -> tuple[int, int] | None:
        """Anti-joins between the mart and the last uploaded set."""
        if UPLOADED in self._absent:
            return None
        known = self._run(
            f"select count(*) from {self._rel(UPLOADED)} "  # noqa: S608
            "where ad_account_id is not distinct from ? and audience_name = ?",
            [ad_account_id, audience_name],
        ).fetchone()
        if not known or not known[0]:
            return None
        current = (
            f"select identifier_type, identifier_sha256 from {self._mart} "  # noqa: S608
            "where audience_name = ?"
        )
        uploaded = (
            f"select identifier_type, identifier_sha256 from {self._rel(UPLOADED)} "  # noqa: S608
            "where ad_account_id is not distinct from ? and audience_name = ?"
        )
        row = self._run(
            f"select (select count(*) from ({current} except {uploaded})), "  # noqa: S608
            f"(select count(*) from ({uploaded} except {current}))",
            [
                audience_name,
                ad_account_id,
                audience_name,
                ad_account_id,
                audience_name,
                audience_name,
            ],
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def append_status(self, rows: Sequence[StatusRecord]) -> None:
        """Append status rows."""
        self._insert(STATUS, [status_row(r) for r in rows])

    def synced_audiences(self, ad_account_id: str) -> list[SyncRecord]:
        """The latest successful row of every audience synced to this ad account (not retired)."""
        if SYNC_LOG in self._absent:
            return []
        names = self._run(
            f"select distinct audience_name from {self._rel(SYNC_LOG)} "  # noqa: S608
            "where ad_account_id = ? and action in ('created', 'replaced', 'unchanged') "
            "order by 1",
            [ad_account_id],
        ).fetchall()
        found = [self.last_success(ad_account_id, n) for (n,) in names]
        return [r for r in found if r is not None]

    def accounts(self) -> list[str]:
        """Every ad account that an audience was synced to, sorted."""
        if SYNC_LOG in self._absent:
            return []
        rows = self._run(
            f"select distinct ad_account_id from {self._rel(SYNC_LOG)} "  # noqa: S608
            "where ad_account_id is not null and action in ('created', 'replaced', 'unchanged') "
            "order by 1"
        ).fetchall()
        return [r[0] for r in rows]
