"""Reading the marts through a Snowpark session (inside the sync procedure)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from spotify_audiences.errors import WarehouseError
from spotify_audiences.snowflake.ledger import SnowparkLedger
from spotify_audiences.warehouse import (
    BATCH_ROWS,
    BUILD_LOG,
    MART,
    REJECTS,
    SETTINGS_COLUMNS,
    SUMMARY,
    BuildRecord,
)


class SnowparkMartReader:
    """A :class:`~spotify_audiences.warehouse.MartReader` on the marts in ``schema``.

    ``schema`` is ``database.schema`` (or a schema of the session's database), where the dbt
    models were built. The identifiers are streamed in the order of the DuckDB reader (type,
    then hash), so the same set always gives the same file.
    """

    def __init__(self, session: Any, schema: str, *, batch_rows: int = BATCH_ROWS) -> None:
        self._session = session
        self._schema = schema
        self._batch_rows = batch_rows
        for table in (MART, REJECTS):
            try:
                self._table(table).limit(0).collect()
            except Exception as exc:  # Snowpark raises one exception class per backend
                raise WarehouseError(
                    f"Cannot read the model {table} in {schema}: run `dbt build` on this schema "
                    f"first, or pass the schema the marts are in ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0] if str(exc) else ''})."
                ) from None

    def _table(self, name: str) -> Any:
        return self._session.table(f"{self._schema}.{name}")

    def audience_names(self) -> list[str]:
        """Every audience that has identifiers or rejects, sorted."""
        names = (
            self._table(MART)
            .select("audience_name")
            .union(self._table(REJECTS).select("audience_name"))
            .collect()
        )
        return sorted({row[0] for row in names})

    def identifier_batches(self, audience_name: str) -> Iterator[Sequence[tuple[str, str]]]:
        """``(type, sha256)`` rows of one audience, streamed from the warehouse in batches."""
        from snowflake.snowpark.functions import col, lit

        rows = (
            self._table(MART)
            .filter(col("audience_name") == lit(audience_name))
            .select("identifier_type", "identifier_sha256")
            .sort("identifier_type", "identifier_sha256")
            .to_local_iterator()
        )
        batch: list[tuple[str, str]] = []
        for row in rows:
            batch.append((row[0], row[1]))
            if len(batch) >= self._batch_rows:
                yield batch
                batch = []
        if batch:
            yield batch

    def rejects(self, audience_name: str) -> dict[str, int]:
        """Counts of rejected values keyed ``"<type>/<reason>"``."""
        from snowflake.snowpark.functions import col, lit
        from snowflake.snowpark.functions import sum as sum_

        rows = (
            self._table(REJECTS)
            .filter(col("audience_name") == lit(audience_name))
            .group_by("identifier_type", "reason")
            .agg(sum_("rejected_count").alias("rejected"))
            .collect()
        )
        return {f"{t}/{r}": int(n) for t, r, n in sorted(tuple(row) for row in rows)}

    def submitted_and_rejected(self, audience_name: str) -> tuple[int, int]:
        """Non-empty identifier values and how many were rejected, from the summary mart."""
        from snowflake.snowpark.functions import col, lit

        rows = (
            self._table(SUMMARY)
            .filter(col("audience_name") == lit(audience_name))
            .select("identifiers_submitted", "identifiers_rejected")
            .collect()
        )
        return (int(rows[0][0] or 0), int(rows[0][1] or 0)) if rows else (0, 0)

    def audience_settings(self) -> dict[str, dict[str, Any]] | None:
        """The settings columns of the summary by audience; None for an older summary."""
        table = self._table(SUMMARY)
        present = [c for c in SETTINGS_COLUMNS if c.upper() in {n.upper() for n in table.columns}]
        if not present:
            return None
        rows = table.select("audience_name", *present).collect()
        return {row[0]: dict(zip(present, tuple(row)[1:], strict=True)) for row in rows}

    def latest_build(self) -> BuildRecord | None:
        """The latest row of the build log beside the marts, if there is one."""
        from snowflake.snowpark.functions import col

        try:
            rows = self._table(BUILD_LOG).sort(col("recorded_at").desc()).limit(1).collect()
        except Exception:  # no build log: Snowpark raises one exception class per backend
            return None
        return BuildRecord.from_row(rows[0].as_dict()) if rows else None

    def ledger(self) -> SnowparkLedger:
        """The sync ledger beside the marts."""
        return SnowparkLedger(self._session, self._schema)

    def close(self) -> None:
        """Nothing to release: the session belongs to the procedure."""
