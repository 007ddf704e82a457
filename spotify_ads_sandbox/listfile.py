"""Validation of uploaded customer-list files, in one streaming pass."""

from __future__ import annotations

import csv
import hashlib
import re
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


def _cells(line: str) -> list[str]:
    if '"' in line:
        return next(csv.reader([line]))
    return line.split(",")


def _describe(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def is_matched(value: str, match_rate: float) -> bool:
    """The simulated match: a hash is "on Spotify" iff its first 32 bits fall under the rate."""
    return int(value[:8], 16) < match_rate * 2**32


def _lines(handle: IO[bytes], digest: Any) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw line) while feeding every byte to ``digest``."""
    number = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        digest.update(raw)
        number += 1
        yield number, raw


def _decode(number: int, raw: bytes) -> str:
    if len(raw) > MAX_LINE_BYTES:
        raise _Invalid(f"Line {number} is longer than {MAX_LINE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Invalid(f"Line {number} is not valid UTF-8") from None
    if number == 1 and text.startswith(_BOM):
        text = text[1:]
    return text.rstrip("\r\n")


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


def inspect_file(
    path: Path, *, min_identifiers: int, max_bytes: int, match_rate: float
) -> FileReport:
    """Validate the list file at ``path`` and count its identifiers, reading it once."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    report = FileReport(size=size, sha256="")
    threshold = match_rate * 2**32
    with path.open("rb") as handle:
        try:
            if size > max_bytes:
                raise _Invalid(f"The file is {size} bytes; at most {max_bytes} bytes are allowed")
            lines = _lines(handle, digest)
            columns: list[str] = []
            for number, raw in lines:
                text = _decode(number, raw)
                if report.layout is None:
                    if not text.strip():
                        raise _Invalid("Line 1: the header row is empty")
                    report.layout, columns = _parse_header(text)
                    continue
                if not text:
                    continue
                cells = _cells(text)
                if len(cells) != len(columns):
                    raise _Invalid(
                        f"Line {number}: expected {len(columns)} columns "
                        f"({','.join(columns)}), found {len(cells)}"
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
                        (kind, value) for kind, value in zip(columns, cells, strict=True) if value
                    ]
                for kind, value in pairs:
                    if len(value) != 64 or not _HEX64.fullmatch(value):
                        raise _Invalid(
                            f"Line {number}: {kind} value {_describe(value)} is not a SHA-256 "
                            "hex digest (64 lower-case hexadecimal characters)"
                        )
                    report.counts[kind] += 1
                    if int(value[:8], 16) < threshold:
                        report.matched += 1
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
    columns: list[str] | None = None
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.decode("utf-8").rstrip("\r\n")
            if number == 1:
                text = text.removeprefix(_BOM)
                layout, columns = _parse_header(text)
                if layout == "long":
                    columns = []
                continue
            if not text:
                continue
            cells = _cells(text)
            if not columns:
                members.add((cells[0], cells[1]))
            else:
                members.update(
                    (kind, value) for kind, value in zip(columns, cells, strict=False) if value
                )
    return members
