"""DuckDB writes the ``long`` upload file with COPY: the very bytes of the Python writer.

The marts here are real DuckDB files with the marts' columns, filled with rows the tests choose
(including rows a build would never write), read through the real reader: opened read-only as
a dry run opens it, and on an open connection as the dbt post-hook passes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import random
from pathlib import Path

import duckdb
import pytest

from spotify_audiences.errors import WarehouseError
from spotify_audiences.export import (
    IDENTIFIER_TYPES,
    ExportResult,
    audience_file_name,
    write_audience_csv,
)
from spotify_audiences.progress import Progress
from spotify_audiences.warehouse import DuckDBMartReader

NAMES = (
    "Lapsed Premium Listeners",
    "O'Brien's \"Best\" Fans",
    "back\\slash \\n not a newline",
    "two\nlines\r\nand a tab\t",
    "Podcast 🎧 Superfans 🎙️",
    "'); drop table main.spotify_audience_identifiers; --",
)
ONLY_REJECTS = "Nothing valid"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_marts(path: Path, rows: list[tuple[str, str | None, str | None]]) -> None:
    """The three marts (the columns the reader reads) holding ``rows`` of identifiers."""
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "create table spotify_audience_identifiers "
            "(audience_name varchar, identifier_type varchar, identifier_sha256 varchar)"
        )
        columns = [list(column) for column in zip(*rows, strict=True)]
        con.execute(
            "insert into spotify_audience_identifiers select unnest(?), unnest(?), unnest(?)",
            columns,
        )
        con.execute(
            "create table spotify_audience_rejects (audience_name varchar, "
            "identifier_type varchar, reason varchar, rejected_count bigint)"
        )
        con.execute(
            "insert into spotify_audience_rejects values (?, ?, 'malformed_email', 3)",
            [ONLY_REJECTS, IDENTIFIER_TYPES[0]],
        )
        con.execute(
            "create table spotify_audience_summary (audience_name varchar, "
            "identifiers_submitted bigint, identifiers_rejected bigint)"
        )
    finally:
        con.close()


def audience_rows(name: str, seed: int, sizes=(700, 450, 300)) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    return [
        (name, identifier_type, sha(f"{identifier_type}-{rng.random()}"))
        for identifier_type, size in zip(IDENTIFIER_TYPES, sizes, strict=True)
        for _ in range(size)
    ]


@pytest.fixture(scope="module")
def marts(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("copy-export") / "marts.duckdb"
    rows = [row for i, name in enumerate(NAMES) for row in audience_rows(name, seed=i)]
    random.Random(9).shuffle(rows)  # the file's order must come from the export, not the table
    make_marts(path, rows)
    return path


def both(reader: DuckDBMartReader, name: str, directory: Path) -> tuple[ExportResult, ...]:
    """The COPY export and the Python writer's, each in its own directory, under one name."""
    copy = reader.export_long(name, directory / "copy" / audience_file_name(name))
    python = write_audience_csv(
        reader.identifier_batches(name), directory / "python" / audience_file_name(name)
    )
    return copy, python


def assert_identical(copy: ExportResult, python: ExportResult) -> None:
    assert copy.path.read_bytes() == python.path.read_bytes()
    assert dataclasses.replace(copy, path=python.path) == python
    assert copy.path.name == python.path.name


@pytest.mark.parametrize("name", NAMES)
def test_copy_writes_the_bytes_of_the_python_writer(marts, tmp_path, name):
    reader = DuckDBMartReader(marts, read_only=True)  # as a dry run opens it
    try:
        copy, python = both(reader, name, tmp_path)
    finally:
        reader.close()

    assert_identical(copy, python)
    assert copy.counts == dict(zip(IDENTIFIER_TYPES, (700, 450, 300), strict=True))
    text = copy.path.read_bytes()
    assert text.startswith(b"type,value\n") and b'"' not in text and b"\r" not in text
    assert copy.bytes == len(text) and copy.sha256 == hashlib.sha256(text).hexdigest()


def test_copy_on_the_open_connection_of_the_post_hook(marts, tmp_path):
    """The plugin's connection: not read-only, no order kept unless asked, two threads."""
    big = tmp_path / "big.duckdb"
    make_marts(big, audience_rows("Big", seed=5, sizes=(60_000, 40_000, 30_000)))
    con = duckdb.connect(str(big), config={"preserve_insertion_order": False, "threads": 2})
    cursor = con.cursor()
    try:
        reader = DuckDBMartReader(connection=cursor)
        copy, python = both(reader, "Big", tmp_path / "quoted 'dir'")
        reader.close()
    finally:
        cursor.close()
        con.close()

    assert_identical(copy, python)
    assert copy.identifiers == 130_000


def test_an_audience_with_no_valid_identifier_gets_the_header_alone(marts, tmp_path):
    reader = DuckDBMartReader(marts)
    try:
        assert ONLY_REJECTS in reader.audience_names()
        copy, python = both(reader, ONLY_REJECTS, tmp_path)
    finally:
        reader.close()

    assert_identical(copy, python)
    assert copy.path.read_bytes() == b"type,value\n" and copy.counts == {}


@pytest.mark.parametrize(
    ("identifier_type", "value"),
    [
        ("EMAIL_SHA256", sha("a")),
        ("PHONE_NUMBER_SHA256", sha("b").upper()),
        ("DEVICE_ID_SHA256", sha("c")[:63]),
        ("EMAIL_ID_SHA256", sha("d") + "\n"),
        ("EMAIL_ID_SHA256", None),
        (None, sha("e")),
        ("jane.doe@example.com", sha("f")),
    ],
    ids=[
        "unknown-type",
        "upper-case",
        "63-chars",
        "trailing-newline",
        "null-value",
        "null-type",
        "email-as-type",
    ],
)
def test_a_row_that_is_no_hashed_identifier_writes_no_file(tmp_path, identifier_type, value):
    path = tmp_path / "bad.duckdb"
    make_marts(path, [*audience_rows("Bad", seed=3), ("Bad", identifier_type, value)])
    reader = DuckDBMartReader(path)
    try:
        with pytest.raises(WarehouseError) as python:
            write_audience_csv(reader.identifier_batches("Bad"), tmp_path / "python.csv")
        with pytest.raises(WarehouseError) as copy:
            reader.export_long("Bad", tmp_path / "out" / "copy.csv")
    finally:
        reader.close()

    assert str(copy.value) == str(python.value)
    message = str(copy.value)
    assert "not a hashed identifier" in message and "nothing was uploaded" in message
    # only a known type name is ever echoed (swapped columns would put an email there)
    if identifier_type not in ("EMAIL_ID_SHA256", "PHONE_NUMBER_SHA256", "DEVICE_ID_SHA256"):
        assert "not a known type" in message
        assert "jane" not in message and "EMAIL_SHA256" not in message
    assert not (tmp_path / "out" / "copy.csv").exists()


def test_the_progress_counts_every_row_once(marts, tmp_path):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    progress = Progress("export", unit="rows", stream=Terminal())
    reader = DuckDBMartReader(marts)
    try:
        reader.export_long(NAMES[0], tmp_path / "one.csv", progress=progress)
    finally:
        reader.close()

    assert progress.done == 1450


def test_an_unwritable_file_is_an_os_error(marts, tmp_path):
    (tmp_path / "full.csv").symlink_to("/dev/full")
    reader = DuckDBMartReader(marts)
    try:
        with pytest.raises(OSError, match="No space left on device"):
            reader.export_long(NAMES[0], tmp_path / "full.csv")
    finally:
        reader.close()
