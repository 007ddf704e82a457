"""Validation of uploaded customer-list files, in one streaming pass."""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

IDENTIFIER_TYPES = ("EMAIL_ID_SHA256", "PHONE_NUMBER_SHA256", "DEVICE_ID_SHA256")
LONG_HEADER = ["type", "value"]
MAX_LINE_BYTES = 4096
_HEX64 = re.compile(r"[0-9a-f]{64}")
_BOM = "\ufeff"
_READ_BLOCK = 1024 * 1024
# A run of well-formed long-layout rows; lets the common case skip per-line Python work.
_LONG_ROWS = re.compile(
    rb"(?:(?:EMAIL_ID_SHA256|PHONE_NUMBER_SHA256|DEVICE_ID_SHA256),[0-9a-f]{64}\r?\n)*"
)
_LONG_PREFIXES = re.compile(rb",([0-9a-f]{2})")


@dataclass
class FileReport:
    """What the sandbox learned from one uploaded file."""

    size: int
    sha256: str
    layout: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(IDENTIFIER_TYPES, 0))
    matched: int = 0
    error: str | None = None

    @property
    def identifiers(self) -> int:
        """Number of identifiers (rows in the long layout, non-empty cells in the wide one)."""
        return sum(self.counts.values())


class _Invalid(Exception):
    pass


def match_threshold(match_rate: float) -> int:
    """Hashes whose first byte is below this are "found on Spotify" (see the package docs)."""
    return round(match_rate * 256)


def _cells(line: str) -> list[str]:
    if '"' in line:
        return next(csv.reader([line]))
    return line.split(",")


def _describe(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _parse_header(text: str) -> tuple[str, list[str]]:
    names = [cell.strip() for cell in _cells(text)]
    if [name.lower() for name in names] == LONG_HEADER:
        return "long", names
    if names and all(name in IDENTIFIER_TYPES for name in names) and len(set(names)) == len(names):
        return "wide", names
    raise _Invalid(
        "Line 1: the header must be 'type,value' or identifier type columns "
        f"({', '.join(IDENTIFIER_TYPES)}), found {_describe(text)}"
    )


def _decode(number: int, raw: bytes) -> str:
    if len(raw) > MAX_LINE_BYTES:
        raise _Invalid(f"Line {number} is longer than {MAX_LINE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Invalid(f"Line {number} is not valid UTF-8") from None
    return text.rstrip("\r\n")


def _blocks(handle: IO[bytes], digest: Any) -> Iterator[bytes]:
    """Yield runs of whole lines (the last one may lack its newline), hashing every byte."""
    pending = b""
    while data := handle.read(_READ_BLOCK):
        digest.update(data)
        pending += data
        cut = pending.rfind(b"\n") + 1
        if cut:
            yield pending[:cut]
            pending = pending[cut:]
        elif len(pending) > MAX_LINE_BYTES:
            yield pending  # one over-long line; the line check reports it
            pending = b""
    if pending:
        yield pending


class _Checker:
    def __init__(self, report: FileReport, threshold: int) -> None:
        self.report = report
        self.threshold = threshold
        self.columns: list[str] = []
        self.line = 0

    def block(self, block: bytes) -> None:
        report = self.report
        if report.layout == "long" and _LONG_ROWS.fullmatch(block):
            for kind in IDENTIFIER_TYPES:
                report.counts[kind] += block.count(kind.encode() + b",")
            prefixes = Counter(_LONG_PREFIXES.findall(block))
            report.matched += sum(
                count for prefix, count in prefixes.items() if int(prefix, 16) < self.threshold
            )
            self.line += block.count(b"\n")
            return
        lines = block.split(b"\n")
        if block.endswith(b"\n"):
            lines.pop()
        for raw in lines:
            self.line += 1
            self.row(raw)

    def row(self, raw: bytes) -> None:
        report, number = self.report, self.line
        text = _decode(number, raw)
        if report.layout is None:
            text = text.removeprefix(_BOM)
            if not text.strip():
                raise _Invalid("Line 1: the header row is empty")
            report.layout, self.columns = _parse_header(text)
            return
        if not text:
            return
        cells = _cells(text)
        if len(cells) != len(self.columns):
            raise _Invalid(
                f"Line {number}: expected {len(self.columns)} columns "
                f"({','.join(self.columns)}), found {len(cells)}"
            )
        if report.layout == "long":
            kind, value = cells
            if kind not in report.counts:
                raise _Invalid(
                    f"Line {number}: unknown identifier type {_describe(kind)}; "
                    f"expected one of {', '.join(IDENTIFIER_TYPES)}"
                )
            pairs = [(kind, value)]
        else:
            pairs = [
                (kind, value) for kind, value in zip(self.columns, cells, strict=True) if value
            ]
        for kind, value in pairs:
            if len(value) != 64 or not _HEX64.fullmatch(value):
                raise _Invalid(
                    f"Line {number}: {kind} value {_describe(value)} is not a SHA-256 "
                    "hex digest (64 lower-case hexadecimal characters)"
                )
            report.counts[kind] += 1
            if int(value[:2], 16) < self.threshold:
                report.matched += 1


def inspect_file(
    path: Path, *, min_identifiers: int, max_bytes: int, match_rate: float
) -> FileReport:
    """Validate the list file at ``path`` and count its identifiers, reading it once."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    report = FileReport(size=size, sha256="")
    checker = _Checker(report, match_threshold(match_rate))
    with path.open("rb") as handle:
        try:
            if size > max_bytes:
                raise _Invalid(f"The file is {size} bytes; at most {max_bytes} bytes are allowed")
            for block in _blocks(handle, digest):
                if report.layout is None:
                    # The header goes through the line-by-line path (BOM, spacing, case).
                    header, _, block = block.partition(b"\n")
                    checker.line += 1
                    checker.row(header)
                    if not block:
                        continue
                checker.block(block)
            if report.layout is None:
                raise _Invalid("The file is empty; a header row and identifiers are required")
            if report.identifiers < min_identifiers:
                raise _Invalid(
                    f"The file has {report.identifiers} identifiers; "
                    f"at least {min_identifiers} are required"
                )
        except _Invalid as invalid:
            report.error = str(invalid)
            report.matched = 0
        # Hash whatever the validation did not read, so the digest always covers the file.
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
    report.sha256 = digest.hexdigest()
    return report


def read_members(path: Path) -> set[tuple[str, str]]:
    """The (type, value) pairs of a file that passed :func:`inspect_file`."""
    members: set[tuple[str, str]] = set()
    columns: list[str] = []
    layout = None
    with path.open("rb") as handle:
        for raw in handle:
            text = raw.decode("utf-8").rstrip("\r\n")
            if layout is None:
                layout, columns = _parse_header(text.removeprefix(_BOM))
                continue
            if not text:
                continue
            cells = _cells(text)
            if layout == "long":
                members.add((cells[0], cells[1]))
            else:
                members.update(
                    (kind, value) for kind, value in zip(columns, cells, strict=False) if value
                )
    return members
