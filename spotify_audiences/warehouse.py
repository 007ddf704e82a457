"""Reading the built marts through the dbt profile's target."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from spotify_audiences.errors import ConfigError, WarehouseError
from spotify_audiences.ledger import DuckDBLedger

MART = "spotify_audience_identifiers"
REJECTS = "spotify_audience_rejects"
SUMMARY = "spotify_audience_summary"
PROFILE_NAME = "spotify_audiences"
BATCH_ROWS = 50_000
# DuckDB's memory for a reader it opens itself. Sorting an audience of millions needs more: with
# this limit DuckDB spills sorted runs to its temp directory, so the sync's memory stays flat
# (about 300 MB at 10 million members) instead of growing with the audience.
MEMORY_LIMIT = "128MB"


class MartReader(Protocol):
    """What a sync needs from the warehouse; one implementation per engine."""

    def audience_names(self) -> list[str]:
        """Every audience in the mart, sorted."""
        ...

    def identifier_batches(self, audience_name: str) -> Iterator[Sequence[tuple[str, str]]]:
        """``(type, sha256)`` rows of one audience in a stable order, in batches."""
        ...

    def rejects(self, audience_name: str) -> dict[str, int]:
        """Rejected identifier counts keyed ``"<type>/<reason>"``."""
        ...

    def submitted_and_rejected(self, audience_name: str) -> tuple[int, int]:
        """Non-empty identifier values in the input, and how many of them were rejected."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


@dataclass(frozen=True)
class DbtTarget:
    """The parts of a dbt profile target that the sync needs."""

    name: str
    type: str
    credentials: Any


def find_profiles_dir(project_dir: Path, profiles_dir: Path | None) -> Path:
    """Like dbt: an explicit dir, else DBT_PROFILES_DIR, else the project, else ~/.dbt."""
    if profiles_dir is not None:
        return profiles_dir
    if os.environ.get("DBT_PROFILES_DIR"):
        return Path(os.environ["DBT_PROFILES_DIR"])
    if (project_dir / "profiles.yml").exists():
        return project_dir
    return Path.home() / ".dbt"


def load_dbt_target(
    project_dir: Path, profiles_dir: Path | None = None, target: str | None = None
) -> DbtTarget:
    """Render the dbt profile (env_var() and all) with dbt's own code and pick the target."""
    from argparse import Namespace

    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.exceptions import DbtProfileError, DbtRuntimeError
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    set_invocation_context(os.environ)
    set_from_args(Namespace(), None)
    directory = find_profiles_dir(project_dir, profiles_dir)
    raw = read_profile(str(directory))
    if not raw:
        raise ConfigError(f"No profiles.yml in {directory}: pass --profiles-dir.")
    try:
        profile = Profile.from_raw_profiles(
            raw, PROFILE_NAME, renderer=ProfileRenderer({}), target_override=target
        )
    except (DbtProfileError, DbtRuntimeError) as exc:
        message = " ".join(str(exc).split())
        raise ConfigError(f"dbt profile {PROFILE_NAME!r}: {message}") from None
    return DbtTarget(
        name=profile.target_name, type=profile.credentials.type, credentials=profile.credentials
    )


def open_mart_reader(
    project_dir: Path,
    profiles_dir: Path | None = None,
    target: str | None = None,
    *,
    read_only: bool = True,
) -> DuckDBMartReader:
    """A reader for the marts that ``dbt build`` wrote on ``target``."""
    found = load_dbt_target(project_dir, profiles_dir, target)
    if found.type == "duckdb":
        path = found.credentials.path
        if not path or path == ":memory:":
            raise ConfigError(f"Target {found.name!r} keeps DuckDB in memory; give it a file path.")
        return DuckDBMartReader(
            Path(path), schema=found.credentials.schema or "main", read_only=read_only
        )
    raise ConfigError(
        f"Target {found.name!r} is a {found.type!r} target; the CLI sync reads duckdb targets "
        "(on Snowflake, call the sync procedure)."
    )


class DuckDBMartReader:
    """Reads the marts from the DuckDB file of the local target."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        schema: str = "main",
        batch_rows: int = BATCH_ROWS,
        connection: Any = None,
        read_only: bool = True,
        memory_limit: str | None = MEMORY_LIMIT,
    ) -> None:
        """Open ``path`` read-only, or use an open DuckDB ``connection`` (not closed by us).

        ``memory_limit`` applies to a connection this reader opens (``None``: DuckDB's default,
        most of the RAM); an open ``connection`` keeps its own settings.
        """
        import duckdb

        self._schema = schema
        self._batch_rows = batch_rows
        self._owned = connection is None
        where = str(path) if path is not None else "the DuckDB connection"
        if connection is not None:
            self._con = connection
        else:
            if path is None or not path.exists():
                raise WarehouseError(
                    f"No DuckDB database at {path}: run `dbt build` first to build the audiences."
                )
            try:
                config = {"memory_limit": memory_limit} if memory_limit else {}
                self._con = duckdb.connect(str(path), read_only=read_only, config=config)
            except duckdb.Error as exc:
                raise WarehouseError(f"Cannot open the DuckDB database {path}: {exc}") from None
            # DuckDB draws a progress bar on stdout for queries over two seconds (sorting a
            # large audience); it would corrupt `sync --json`.
            self._con.execute("set enable_progress_bar = false")
        for table in (MART, REJECTS, SUMMARY):
            if not self._table_exists(table):
                raise WarehouseError(
                    f"The model {table} is not in {where} (schema {schema}): run `dbt build` first."
                )

    def _table_exists(self, table: str) -> bool:
        row = self._con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [self._schema, table],
        ).fetchone()
        return bool(row and row[0])

    def _rel(self, table: str) -> str:
        return f'"{self._schema}"."{table}"'

    def audience_names(self) -> list[str]:
        """Every audience that has identifiers or rejects."""
        rows = self._con.execute(
            f"select audience_name from {self._rel(MART)} "  # noqa: S608 - fixed identifiers
            f"union select audience_name from {self._rel(REJECTS)} order by 1"
        ).fetchall()
        return [r[0] for r in rows]

    def identifier_batches(self, audience_name: str) -> Iterator[Sequence[tuple[str, str]]]:
        """Rows ordered by type and hash, so that the same set always gives the same file."""
        cursor = self._con.cursor()
        cursor.execute(
            f"select identifier_type, identifier_sha256 from {self._rel(MART)} "  # noqa: S608
            "where audience_name = ? order by identifier_type, identifier_sha256",
            [audience_name],
        )
        try:
            while batch := cursor.fetchmany(self._batch_rows):
                yield batch
        finally:
            cursor.close()

    def rejects(self, audience_name: str) -> dict[str, int]:
        """Counts of rejected values by type and reason."""
        rows = self._con.execute(
            f"select identifier_type, reason, sum(rejected_count) from {self._rel(REJECTS)} "  # noqa: S608
            "where audience_name = ? group by 1, 2 order by 1, 2",
            [audience_name],
        ).fetchall()
        return {f"{t}/{r}": int(n) for t, r, n in rows}

    def submitted_and_rejected(self, audience_name: str) -> tuple[int, int]:
        """From the summary mart."""
        row = self._con.execute(
            f"select identifiers_submitted, identifiers_rejected from {self._rel(SUMMARY)} "  # noqa: S608
            "where audience_name = ?",
            [audience_name],
        ).fetchone()
        return (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)

    def ledger(self) -> DuckDBLedger:
        """The sync ledger in the same database (needs a writable connection)."""
        return DuckDBLedger(self._con, schema=self._schema, mart=MART)

    def close(self) -> None:
        """Close the connection if this reader opened it."""
        if self._owned:
            self._con.close()
