"""The sync ledger in Snowflake, beside the marts, written through the procedure's session.

The same three tables, with the same columns, as :class:`~spotify_audiences.ledger.DuckDBLedger`;
everything goes through the DataFrame API, which Snowflake and Snowpark local testing share.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spotify_audiences.ledger import (
    _LOG_COLUMNS,
    _STATUS_COLUMNS,
    _UPLOADED_COLUMNS,
    STATUS,
    SUCCESS_ACTIONS,
    SYNC_LOG,
    UPLOADED,
    StatusRecord,
    SyncRecord,
)
from spotify_audiences.warehouse import MART


def _schema(columns: str) -> Any:
    """A Snowpark StructType from the DuckDB ledger's column list (one definition for both)."""
    from snowflake.snowpark.types import (
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    types = {"varchar": StringType(), "timestamp": TimestampType(), "bigint": LongType()}
    fields = []
    for column in columns.split(","):
        name, kind = column.split()
        fields.append(StructField(name.upper(), types[kind], nullable=True))
    return StructType(fields)


class SnowparkLedger:
    """A :class:`~spotify_audiences.ledger.Ledger` on the tables in ``schema``."""

    def __init__(self, session: Any, schema: str) -> None:
        self._session = session
        self._schema = schema
        for table, columns in (
            (SYNC_LOG, _LOG_COLUMNS),
            (UPLOADED, _UPLOADED_COLUMNS),
            (STATUS, _STATUS_COLUMNS),
        ):
            empty = session.create_dataframe([], schema=_schema(columns))
            empty.write.save_as_table(self._name(table), mode="ignore")

    def _name(self, table: str) -> str:
        return f"{self._schema}.{table}"

    def _table(self, table: str) -> Any:
        return self._session.table(self._name(table))

    def _append(self, table: str, columns: str, rows: list[list[Any]]) -> None:
        frame = self._session.create_dataframe(rows, schema=_schema(columns))
        frame.write.save_as_table(self._name(table), mode="append", column_order="name")

    def last_success(self, ad_account_id: str | None, audience_name: str) -> SyncRecord | None:
        """The latest successful row."""
        from snowflake.snowpark.functions import col, lit

        rows = (
            self._table(SYNC_LOG)
            .filter(
                (col("audience_name") == lit(audience_name))
                & _same_account(ad_account_id)
                & col("action").isin(list(SUCCESS_ACTIONS))
            )
            .sort(col("finished_at").desc())
            .limit(1)
            .collect()
        )
        if not rows:
            return None
        values = {k.lower(): v for k, v in rows[0].as_dict().items()}
        values["counts"] = json.loads(values["counts"] or "{}")
        values["rejected"] = json.loads(values["rejected"] or "{}")
        values["identifiers"] = int(values["identifiers"] or 0)
        values["bytes"] = int(values["bytes"] or 0)
        return SyncRecord(**values)

    def record(self, row: SyncRecord) -> None:
        """Append one row."""
        self._append(SYNC_LOG, _LOG_COLUMNS, [row.as_row()])

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
            self._append(
                STATUS,
                _STATUS_COLUMNS,
                [
                    [
                        r.checked_at,
                        r.audience_name,
                        r.audience_id,
                        r.ad_account_id,
                        r.status,
                        r.size_min,
                        r.size_max,
                        r.identifiers_uploaded,
                    ]
                    for r in rows
                ],
            )

    def synced_audiences(self, ad_account_id: str) -> list[SyncRecord]:
        """The latest successful row of every audience synced to this ad account."""
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


def _same_account(ad_account_id: str | None) -> Any:
    from snowflake.snowpark.functions import col, lit

    if ad_account_id is None:
        return col("ad_account_id").is_null()
    return col("ad_account_id") == lit(ad_account_id)
