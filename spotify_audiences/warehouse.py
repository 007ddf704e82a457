"""Reading the built marts: where they are, and one SQL reader for DuckDB and Snowflake."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from spotify_audiences.errors import ConfigError, WarehouseError
from spotify_audiences.export import (
    IDENTIFIER_TYPES,
    ExportResult,
    file_digest,
    not_a_hashed_identifier,
)
from spotify_audiences.ledger import Ledger, SqlLedger
from spotify_audiences.progress import Progress

log = logging.getLogger(__name__)

MART = "spotify_audience_identifiers"
REJECTS = "spotify_audience_rejects"
SUMMARY = "spotify_audience_summary"
BUILD_LOG = "spotify_audience_build_log"
# The per-audience settings the build writes into the summary mart (from the dbt var).
SETTINGS_COLUMNS = (
    "ad_account_id",
    "audience_id",
    "description",
    "min_identifiers",
    "max_shrink",
    "max_rejected_share",
)
# The summary's suppression columns (built by the dbt package with a suppression list), by type
SUPPRESSION_COLUMNS = {
    "EMAIL_ID_SHA256": "suppressed_email",
    "PHONE_NUMBER_SHA256": "suppressed_phone",
    "DEVICE_ID_SHA256": "suppressed_device_id",
}
BATCH_ROWS = 50_000
# DuckDB's memory for a reader it opens itself. Sorting an audience of millions needs more: with
# this limit DuckDB spills sorted runs to its temp directory, so the sync's memory stays flat
# (about 300 MB at 10 million members) instead of growing with the audience.
MEMORY_LIMIT = "128MB"
# A row of the identifiers mart that may go into an upload file: a known type and 64 lower-case
# hex characters (export._checked's rule, in DuckDB SQL; null is never valid).
_VALID_ROW = (
    "coalesce(identifier_type in ("
    + ", ".join(f"'{t}'" for t in IDENTIFIER_TYPES)
    + ") and regexp_full_match(identifier_sha256, '[0-9a-f]{64}'), false)"
)
# Every option of DuckDB's CSV writer that shapes the bytes, set so that the file is exactly
# export.write_audience_csv's long layout whatever DuckDB's defaults become: a header, commas,
# no quoting at all (the rows are checked hex), LF endings, no compression guessed from the
# name, and no temporary file (the file is written where the sync asked, as the Python writer
# does: the sync's own scratch directory holds it until the upload).
_COPY_OPTIONS = (
    "format csv, header true, delimiter ',', quote '', escape '', new_line '\\n', "
    "compression 'none', use_tmp_file false"
)


@dataclass(frozen=True)
class BuildRecord:
    """The latest row of ``spotify_audience_build_log``: how the last dbt invocation went."""

    invocation_id: str
    recorded_at: datetime | None
    dbt_command: str | None
    target_name: str | None
    marts_built: bool
    tests_run: int
    tests_failed: int
    failed_tests: list[dict[str, str]]

    @classmethod
    def from_row(cls, values: dict[str, Any]) -> BuildRecord:
        """From a row keyed by column name (any case); ``failed_tests`` is JSON text."""
        row = {k.lower(): v for k, v in values.items()}
        failed = row.get("failed_tests") or "[]"
        try:
            tests = json.loads(failed) if isinstance(failed, str) else list(failed)
        except ValueError:
            tests = [{"name": str(failed), "status": "fail"}]
        return cls(
            invocation_id=str(row.get("invocation_id") or ""),
            recorded_at=row.get("recorded_at"),
            dbt_command=row.get("dbt_command"),
            target_name=row.get("target_name"),
            marts_built=bool(row.get("marts_built")),
            tests_run=int(row.get("tests_run") or 0),
            tests_failed=int(row.get("tests_failed") or 0),
            failed_tests=[t if isinstance(t, dict) else {"name": str(t)} for t in tests],
        )


class LongExporter(Protocol):
    """A reader that writes the ``long`` upload file itself (faster than streaming rows)."""

    def export_long(
        self, audience_name: str, path: Path, *, progress: Progress | None = None
    ) -> ExportResult:
        """The file :func:`~spotify_audiences.export.write_audience_csv` writes in ``long``."""
        ...


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

    def audience_settings(self) -> dict[str, dict[str, Any]] | None:
        """The settings columns of the summary by audience; None if it has none (older build)."""
        ...

    def latest_build(self) -> BuildRecord | None:
        """The latest build-log row, or None when there is no build log or no row."""
        ...

    def ledger(self) -> Ledger:
        """The sync ledger beside the marts."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


@dataclass(frozen=True)
class Relation:
    """A table as dbt names it: database (None: the connection's), schema and alias."""

    database: str | None
    schema: str
    name: str


@dataclass(frozen=True)
class MartRelations:
    """Where the three marts are; the ledger and the build log live with the summary."""

    identifiers: Relation
    rejects: Relation
    summary: Relation

    @classmethod
    def in_schema(cls, schema: str, database: str | None = None) -> MartRelations:
        """The marts under their own names in one schema."""
        return cls(
            identifiers=Relation(database, schema, MART),
            rejects=Relation(database, schema, REJECTS),
            summary=Relation(database, schema, SUMMARY),
        )

    @property
    def home(self) -> Relation:
        """The summary's database and schema (``name`` is the summary's)."""
        return self.summary


def duckdb_quote(name: str) -> str:
    """A DuckDB identifier, always quoted."""
    return '"' + name.replace('"', '""') + '"'


_SIMPLE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def snowflake_quote(name: str) -> str:
    """As dbt-snowflake renders by default: unquoted (Snowflake upper-cases it) when it can be."""
    return name if _SIMPLE.fullmatch(name) else '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class DbtTarget:
    """The parts of a dbt profile target that the sync needs."""

    name: str
    type: str
    credentials: Any
    profile_name: str = ""


def find_profiles_dir(project_dir: Path, profiles_dir: Path | None) -> Path:
    """Like dbt: an explicit dir, else DBT_PROFILES_DIR, else the current directory if it has a
    profiles.yml, else the project's, else ~/.dbt."""
    if profiles_dir is not None:
        return profiles_dir
    if os.environ.get("DBT_PROFILES_DIR"):
        return Path(os.environ["DBT_PROFILES_DIR"])
    for directory in (Path.cwd(), project_dir):
        if (directory / "profiles.yml").exists():
            return directory
    return Path.home() / ".dbt"


def _dbt_context() -> None:
    from argparse import Namespace

    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    set_invocation_context(os.environ)
    set_from_args(Namespace(), None)


def read_profile_name(project_dir: Path) -> str:
    """The ``profile:`` of the project's dbt_project.yml, rendered by dbt (env_var() and all)."""
    from dbt.config.project import PartialProject
    from dbt.config.renderer import DbtProjectYamlRenderer
    from dbt.exceptions import DbtProjectError, DbtRuntimeError

    _dbt_context()
    if not (project_dir / "dbt_project.yml").exists():
        raise ConfigError(f"No dbt_project.yml in {project_dir}: pass --project-dir.")
    try:
        partial = PartialProject.from_project_root(str(project_dir), verify_version=False)
        name = partial.render_profile_name(DbtProjectYamlRenderer(None, {}))
    except (DbtProjectError, DbtRuntimeError) as exc:
        message = " ".join(str(exc).split())
        raise ConfigError(f"{project_dir / 'dbt_project.yml'}: {message}") from None
    if not name:
        raise ConfigError(f"{project_dir / 'dbt_project.yml'} names no profile (profile: ...).")
    return str(name)


def load_dbt_target(
    project_dir: Path,
    profiles_dir: Path | None = None,
    target: str | None = None,
    *,
    profile_name: str | None = None,
) -> DbtTarget:
    """Render the dbt profile (env_var() and all) with dbt's own code and pick the target.

    The profile is the project's ``profile:`` unless ``profile_name`` says otherwise.
    """
    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.exceptions import DbtProfileError, DbtRuntimeError

    name = profile_name or read_profile_name(project_dir)
    _dbt_context()
    directory = find_profiles_dir(project_dir, profiles_dir)
    raw = read_profile(str(directory))
    if not raw:
        raise ConfigError(f"No profiles.yml in {directory}: pass --profiles-dir.")
    try:
        profile = Profile.from_raw_profiles(
            raw, name, renderer=ProfileRenderer({}), target_override=target
        )
    except (DbtProfileError, DbtRuntimeError) as exc:
        message = " ".join(str(exc).split())
        raise ConfigError(f"dbt profile {name!r}: {message}") from None
    return DbtTarget(
        name=profile.target_name,
        type=profile.credentials.type,
        credentials=profile.credentials,
        profile_name=name,
    )


def open_mart_reader(
    project_dir: Path,
    profiles_dir: Path | None = None,
    target: str | None = None,
    *,
    read_only: bool = True,
) -> MartReader:
    """A reader for the marts that ``dbt build`` wrote on ``target`` (DuckDB or Snowflake)."""
    from spotify_audiences.project import resolve_project

    project = resolve_project(project_dir, profiles_dir, target)
    found = project.target
    if found.type == "duckdb":
        path = found.credentials.path
        if not path or path == ":memory:":
            raise ConfigError(f"Target {found.name!r} keeps DuckDB in memory; give it a file path.")
        return DuckDBMartReader(Path(path), relations=project.marts, read_only=read_only)
    if found.type == "snowflake":
        from spotify_audiences.snowflake.connector import SnowflakeMartReader

        return SnowflakeMartReader.from_target(found, project.marts)
    raise ConfigError(
        f"Target {found.name!r} is a {found.type!r} target; the sync reads duckdb and "
        "snowflake targets."
    )


class SqlMartReader:
    """Reads the marts through a DB-API connection with ``?`` parameters (DuckDB, Snowflake).

    Identifiers are streamed with ``fetchmany`` ordered by type, then hash, so the same set
    always gives the same file and memory stays flat in the audience size.
    """

    dialect = "duckdb"
    read_only = False  # a read-only reader's ledger reads and never writes (a dry run)

    def __init__(
        self,
        connection: Any,
        relations: MartRelations,
        *,
        quote: Callable[[str], str],
        errors: tuple[type[BaseException], ...],
        where: str,
        batch_rows: int = BATCH_ROWS,
        owned: bool = False,
        relation_names: dict[str, str] | None = None,
    ) -> None:
        self._con = connection
        self._relations = relations
        self._quote = quote
        self._errors = errors
        self._batch_rows = batch_rows
        self._owned = owned
        names = relation_names or {}
        self._mart = names.get(MART) or self._render(relations.identifiers)
        self._rejects = names.get(REJECTS) or self._render(relations.rejects)
        self._summary = names.get(SUMMARY) or self._render(relations.summary)
        self._columns: dict[str, list[str]] = {}
        for model, rendered in (
            (MART, self._mart),
            (REJECTS, self._rejects),
            (SUMMARY, self._summary),
        ):
            try:
                self._columns[model] = self._column_names(rendered)
            except errors:
                raise WarehouseError(
                    f"The model {model} is not in {where} ({rendered}): run `dbt build` first."
                ) from None

    def _render(self, relation: Relation) -> str:
        parts = [relation.database, relation.schema, relation.name]
        return ".".join(self._quote(p) for p in parts if p)

    @property
    def home(self) -> str:
        """The rendered database and schema of the summary, where the ledger lives."""
        home = self._relations.home
        return ".".join(self._quote(p) for p in (home.database, home.schema) if p)

    def _cursor(self) -> Any:
        return self._con.cursor()

    def _query(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        cursor = self._cursor()
        if params is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, list(params))
        return cursor

    def _column_names(self, rendered: str) -> list[str]:
        cursor = self._query(f"select * from {rendered} limit 0")  # noqa: S608 - fixed names
        return [d[0].lower() for d in cursor.description]

    def audience_names(self) -> list[str]:
        """Every audience that has identifiers or rejects."""
        rows = self._query(
            f"select audience_name from {self._mart} "  # noqa: S608 - fixed identifiers
            f"union select audience_name from {self._rejects}"
        ).fetchall()
        return sorted({r[0] for r in rows})

    def identifier_batches(self, audience_name: str) -> Iterator[Sequence[tuple[str, str]]]:
        """Rows ordered by type and hash, so that the same set always gives the same file."""
        cursor = self._query(
            f"select identifier_type, identifier_sha256 from {self._mart} "  # noqa: S608
            "where audience_name = ? order by identifier_type, identifier_sha256",
            [audience_name],
        )
        try:
            while batch := cursor.fetchmany(self._batch_rows):
                yield [tuple(row) for row in batch]
        finally:
            cursor.close()

    def rejects(self, audience_name: str) -> dict[str, int]:
        """Counts of rejected values by type and reason."""
        rows = self._query(
            f"select identifier_type, reason, sum(rejected_count) from {self._rejects} "  # noqa: S608
            "where audience_name = ? group by identifier_type, reason",
            [audience_name],
        ).fetchall()
        return {f"{t}/{r}": int(n) for t, r, n in sorted(rows)}

    def submitted_and_rejected(self, audience_name: str) -> tuple[int, int]:
        """From the summary mart."""
        row = self._query(
            f"select identifiers_submitted, identifiers_rejected from {self._summary} "  # noqa: S608
            "where audience_name = ?",
            [audience_name],
        ).fetchone()
        return (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)

    def suppressed(self, audience_name: str) -> dict[str, int]:
        """Identifiers the suppression list removed, by type (non-zero only; {} without the
        summary's suppression columns)."""
        present = {t: c for t, c in SUPPRESSION_COLUMNS.items() if c in self._columns[SUMMARY]}
        if not present:
            return {}
        row = self._query(
            f"select {', '.join(present.values())} from {self._summary} "  # noqa: S608
            "where audience_name = ?",
            [audience_name],
        ).fetchone()
        if row is None:
            return {}
        return {t: int(n) for t, n in zip(present, row, strict=True) if n}

    def audience_settings(self) -> dict[str, dict[str, Any]] | None:
        """The settings columns the build resolved from the var; None for an older summary."""
        present = [c for c in SETTINGS_COLUMNS if c in self._columns[SUMMARY]]
        if not present:
            return None
        cursor = self._query(
            f"select audience_name, {', '.join(present)} from {self._summary}"  # noqa: S608
        )
        return {row[0]: dict(zip(present, row[1:], strict=True)) for row in cursor.fetchall()}

    def latest_build(self) -> BuildRecord | None:
        """The latest row of the build log in the summary's schema, if there is one."""
        try:
            cursor = self._query(
                f"select * from {self.home}.{self._quote(BUILD_LOG)} "  # noqa: S608
                "order by recorded_at desc limit 1"
            )
        except self._errors:
            return None
        row = cursor.fetchone()
        if row is None:
            return None
        return BuildRecord.from_row(dict(zip([d[0] for d in cursor.description], row, strict=True)))

    def ledger(self) -> SqlLedger:
        """The sync ledger in the summary's schema."""
        return SqlLedger(
            self._con,
            schema=self.home,
            mart=self._mart,
            dialect=self.dialect,
            quote=self._quote,
            read_only=self.read_only,
        )

    def close(self) -> None:
        """Close the connection if this reader opened it."""
        if self._owned:
            self._con.close()


class DuckDBMartReader(SqlMartReader):
    """Reads the marts from the DuckDB file of the local target (or an open connection)."""

    dialect = "duckdb"

    def __init__(
        self,
        path: Path | None = None,
        *,
        schema: str = "main",
        relations: MartRelations | None = None,
        batch_rows: int = BATCH_ROWS,
        connection: Any = None,
        read_only: bool = True,
        memory_limit: str | None = MEMORY_LIMIT,
    ) -> None:
        """Open ``path``, or use an open DuckDB ``connection`` (not closed by us).

        ``memory_limit`` applies to a connection this reader opens (``None``: DuckDB's default,
        most of the RAM); an open ``connection`` keeps its own settings.
        """
        import duckdb

        where = str(path) if path is not None else "the DuckDB connection"
        if connection is None:
            if path is None or not path.exists():
                raise WarehouseError(
                    f"No DuckDB database at {path}: run `dbt build` first to build the audiences."
                )
            try:
                config = {"memory_limit": memory_limit} if memory_limit else {}
                connection = duckdb.connect(str(path), read_only=read_only, config=config)
            except duckdb.Error as exc:
                raise WarehouseError(f"Cannot open the DuckDB database {path}: {exc}") from None
            # DuckDB draws a progress bar on stdout for queries over two seconds (sorting a
            # large audience); it would corrupt `sync --json`.
            connection.execute("set enable_progress_bar = false")
            owned = True
            self.read_only = read_only
        else:
            owned = False
        super().__init__(
            connection,
            relations or MartRelations.in_schema(schema),
            quote=duckdb_quote,
            errors=(duckdb.Error,),
            where=where,
            batch_rows=batch_rows,
            owned=owned,
        )

    def _query(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        try:
            return super()._query(sql, params)
        except RuntimeError as exc:
            # DuckDB runs the signal handlers while a query runs (SIGTERM raises
            # KeyboardInterrupt in the CLI) and replaces what they raise with this error; the
            # interruption must stay one, so that the sync stops as on Ctrl-C (exit 130).
            if str(exc) == "Query interrupted":
                raise KeyboardInterrupt from None
            raise

    def export_long(
        self, audience_name: str, path: Path, *, progress: Progress | None = None
    ) -> ExportResult:
        """Write the audience's ``long`` upload file with DuckDB's ``COPY``.

        The bytes, counts, size and SHA-256 are those of
        :func:`~spotify_audiences.export.write_audience_csv` with ``layout="long"`` on
        :meth:`identifier_batches`: a ``type,value`` header, then ``<type>,<sha256>`` rows
        ordered by type, then hash, unquoted, LF-terminated. The rows are checked in SQL first:
        a row that is not a hashed identifier raises the Python writer's WarehouseError and
        writes nothing. Raises ``OSError`` when the file cannot be written; what was written
        of it is removed then, and on an interruption.
        """
        import duckdb

        counts = self._checked_counts(audience_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        # The name is a bound parameter; the path cannot be one before DuckDB 2 (a parser
        # error in 1.2), so it is a SQL string literal, quotes doubled.
        literal = "'" + str(path).replace("'", "''") + "'"
        try:
            self._query(
                "copy (select identifier_type as type, identifier_sha256 as value "  # noqa: S608
                f"from {self._mart} where audience_name = ? "
                f"order by identifier_type, identifier_sha256) to {literal} ({_COPY_OPTIONS})",
                [audience_name],
            ).close()
        except KeyboardInterrupt:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            raise
        except duckdb.Error as exc:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            message = " ".join(str(exc).split()).removeprefix("IO Error: ")
            if isinstance(exc, duckdb.IOException):
                raise OSError(message) from None
            raise WarehouseError(f"Exporting {self._mart} with COPY failed: {message}") from None
        size, sha256 = file_digest(path)
        if progress is not None:
            progress.advance(sum(counts.values()))
            progress.close()
        return ExportResult(path=path, counts=counts, bytes=size, sha256=sha256)

    def _checked_counts(self, audience_name: str) -> dict[str, int]:
        """The audience's identifiers by type; raises for a row that is not a hashed one."""
        rows = self._query(
            f"select identifier_type, count(*), count(*) filter (where not {_VALID_ROW}) "  # noqa: S608
            f"from {self._mart} where audience_name = ? group by identifier_type",
            [audience_name],
        ).fetchall()
        if any(bad for _, _, bad in rows):
            # The first such row of the file, as the Python writer meets it
            first = self._query(
                f"select identifier_type, identifier_sha256 from {self._mart} "  # noqa: S608
                f"where audience_name = ? and not {_VALID_ROW} "
                "order by identifier_type, identifier_sha256 limit 1",
                [audience_name],
            ).fetchone()
            raise not_a_hashed_identifier(*first)
        found = {t: int(n) for t, n, _ in rows}
        return {t: found[t] for t in IDENTIFIER_TYPES if found.get(t)}
