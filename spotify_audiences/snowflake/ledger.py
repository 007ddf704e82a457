"""The sync ledger in Snowflake, beside the marts, written through the procedure's session.

The same three tables, with the same columns (:data:`~spotify_audiences.ledger.LEDGER_TABLES`),
as :class:`~spotify_audiences.ledger.SqlLedger`; everything goes through the DataFrame API,
which Snowflake and Snowpark local testing share.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spotify_audiences.ledger import (
    ATTEMPT_ACTIONS,
    LEDGER_TABLES,
    PENDING,
    RETIRED,
    STATUS,
    SUCCESS_ACTIONS,
    SYNC_LOG,
    UPLOADED,
    Column,
    StatusRecord,
    SyncRecord,
    status_row,
    sync_record,
)
from spotify_audiences.warehouse import MART


def _type(column: Column) -> Any:
    from snowflake.snowpark.types import (
        BooleanType,
        LongType,
        StringType,
        TimestampType,
    )

    return {
        "varchar": StringType(),
        "timestamp": TimestampType(),
        "bigint": LongType(),
        "boolean": BooleanType(),
    }[column.type]


def _schema(table: str) -> Any:
    """A Snowpark StructType of a ledger table, from the one definition of its columns."""
    from snowflake.snowpark.types import StructField, StructType

    return StructType(
        [StructField(c.name.upper(), _type(c), nullable=True) for c in LEDGER_TABLES[table]]
    )


class SnowparkLedger:
    """A :class:`~spotify_audiences.ledger.Ledger` on the tables in ``schema``."""

    def __init__(self, session: Any, schema: str) -> None:
        self._session = session
        self._schema = schema
        for table in LEDGER_TABLES:
            empty = session.create_dataframe([], schema=_schema(table))
            empty.write.save_as_table(self._name(table), mode="ignore")
            self._add_missing_columns(table)

    def _add_missing_columns(self, table: str) -> None:
        """Bring a table written by an older version up to the current columns."""
        from snowflake.snowpark.functions import lit
        from snowflake.snowpark.types import StringType

        present = {name.upper() for name in self._table(table).columns}
        missing = [c for c in LEDGER_TABLES[table] if c.name.upper() not in present]
        if not missing:
            return
        try:
            for column in missing:
                self._session.sql(
                    f"alter table {self._name(table)} add column {column.name} {column.type}"
                ).collect()
        except Exception:  # Snowpark local testing runs no SQL: rewrite the table instead
            frame = self._table(table)
            for column in missing:
                kind = _type(column)
                # local testing sizes a string literal from its value, so a null one is cast
                null = lit(None).cast(kind) if isinstance(kind, StringType) else lit(None, kind)
                frame = frame.with_column(column.name.upper(), null)
            frame.cache_result().write.save_as_table(self._name(table), mode="overwrite")

    def _name(self, table: str) -> str:
        return f"{self._schema}.{table}"

    def _table(self, table: str) -> Any:
        return self._session.table(self._name(table))

    def _append(self, table: str, rows: list[list[Any]]) -> None:
        frame = self._session.create_dataframe(rows, schema=_schema(table))
        frame.write.save_as_table(self._name(table), mode="append", column_order="name")

    def _latest(
        self, ad_account_id: str | None, audience_name: str, actions: Sequence[str]
    ) -> SyncRecord | None:
        from snowflake.snowpark.functions import col, lit, when

        # A pending row and its outcome can share a timestamp: the outcome is the later one.
        rows = (
            self._table(SYNC_LOG)
            .filter(
                (col("audience_name") == lit(audience_name))
                & _same_account(ad_account_id)
                & col("action").isin(list(actions))
            )
            .sort(
                col("finished_at").desc(),
                when(col("action") == lit(PENDING), lit(0)).otherwise(lit(1)).desc(),
            )
            .limit(1)
            .collect()
        )
        if not rows:
            return None
        return sync_record(rows[0].as_dict())

    def last_success(self, ad_account_id: str | None, audience_name: str) -> SyncRecord | None:
        """The latest successful row, unless the audience was retired after it."""
        found = self._latest(ad_account_id, audience_name, (*SUCCESS_ACTIONS, RETIRED))
        return found if found is not None and found.action in SUCCESS_ACTIONS else None

    def last_attempt(self, ad_account_id: str | None, audience_name: str) -> SyncRecord | None:
        """The latest row that says what Spotify holds or may hold."""
        return self._latest(ad_account_id, audience_name, ATTEMPT_ACTIONS)

    def record(self, row: SyncRecord) -> None:
        """Append one row."""
        self._append(SYNC_LOG, [row.as_row()])

    def store_uploaded(self, ad_account_id: str, audience_name: str, csv_path: Path) -> None:
        """Keep the uploaded set: the mart's rows of the audience, copied inside Snowflake.

        The file was written from these rows moments ago in the same call; copying them with
        one INSERT ... SELECT keeps the hashes from travelling through the procedure again.
        """
        from snowflake.snowpark.functions import col, lit

        self._table(UPLOADED).delete(
            (col("ad_account_id") == lit(ad_account_id))
            & (col("audience_name") == lit(audience_name))
        )
        (
            self._session.table(f"{self._schema}.{MART}")
            .filter(col("audience_name") == lit(audience_name))
            .select(
                lit(ad_account_id).alias("AD_ACCOUNT_ID"),
                lit(audience_name).alias("AUDIENCE_NAME"),
                col("identifier_type").alias("IDENTIFIER_TYPE"),
                col("identifier_sha256").alias("IDENTIFIER_SHA256"),
            )
            .write.save_as_table(self._name(UPLOADED), mode="append", column_order="name")
        )

    def diff(self, ad_account_id: str | None, audience_name: str) -> tuple[int, int] | None:
        """Hashes the mart would add and remove against the last uploaded set."""
        from snowflake.snowpark.functions import col, lit

        uploaded = self._table(UPLOADED).filter(
            _same_account(ad_account_id) & (col("audience_name") == lit(audience_name))
        )
        uploaded = uploaded.select("identifier_type", "identifier_sha256")
        if uploaded.count() == 0:
            return None
        current = (
            self._session.table(f"{self._schema}.{MART}")
            .filter(col("audience_name") == lit(audience_name))
            .select("identifier_type", "identifier_sha256")
        )
        return int(current.except_(uploaded).count()), int(uploaded.except_(current).count())

    def append_status(self, rows: Sequence[StatusRecord]) -> None:
        """Append status rows."""
        if rows:
            self._append(STATUS, [status_row(r) for r in rows])

    def synced_audiences(self, ad_account_id: str) -> list[SyncRecord]:
        """The latest successful row of every audience synced to this ad account (not retired)."""
        from snowflake.snowpark.functions import col

        names = (
            self._table(SYNC_LOG)
            .filter(_same_account(ad_account_id) & col("action").isin(list(SUCCESS_ACTIONS)))
            .select("audience_name")
            .distinct()
            .collect()
        )
        found = [self.last_success(ad_account_id, row[0]) for row in sorted(names)]
        return [r for r in found if r is not None]

    def accounts(self) -> list[str]:
        """Every ad account that an audience was synced to, sorted."""
        from snowflake.snowpark.functions import col

        rows = (
            self._table(SYNC_LOG)
            .filter(col("ad_account_id").is_not_null() & col("action").isin(list(SUCCESS_ACTIONS)))
            .select("ad_account_id")
            .distinct()
            .collect()
        )
        return sorted(row[0] for row in rows)


def _same_account(ad_account_id: str | None) -> Any:
    from snowflake.snowpark.functions import col, lit

    if ad_account_id is None:
        return col("ad_account_id").is_null()
    return col("ad_account_id") == lit(ad_account_id)
