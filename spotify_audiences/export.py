"""The upload file: hashed identifiers streamed from the warehouse to disk, counted and hashed.

Rows arrive in batches from a cursor and leave as bytes, so memory does not grow with the
audience. Each row is checked on the way (a known type, 64 lower-case hex characters): a file
that would upload garbage stops the sync instead of replacing a live audience with it.

Two layouts (Spotify has not published which one its upload expects; both carry the same set):

* ``long`` (the default): a ``type,value`` header, then one ``<type>,<sha256>`` row per
  identifier, ordered by type, then hash;
* ``wide``: one column per identifier type present in the audience, headed by the type name
  (``EMAIL_ID_SHA256``, ``PHONE_NUMBER_SHA256``, ``DEVICE_ID_SHA256``, in that order; a type
  the audience lacks has no column). Row *i* holds the *i*-th hash of each type in hash order;
  a column that runs out first is left empty. The hashes of one row belong to no common member:
  the mart keeps no link between a member's identifiers, and the list needs none.

Both are deterministic: the same set gives the same bytes, so the file's SHA-256 (the sync's
fingerprint) changes only when the set, or the layout, changes.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spotify_audiences.errors import WarehouseError
from spotify_audiences.progress import Progress

IDENTIFIER_TYPES = ("EMAIL_ID_SHA256", "PHONE_NUMBER_SHA256", "DEVICE_ID_SHA256")
HEADER = b"type,value\n"
LAYOUTS = ("long", "wide")

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass
class ExportResult:
    """The file written for one audience."""

    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    sha256: str = ""

    @property
    def identifiers(self) -> int:
        """Rows in the file, header excluded."""
        return sum(self.counts.values())


def audience_file_name(name: str) -> str:
    """A file name unique to the exact audience name: a readable slug plus a short hash.

    ``Foo Bar`` and ``foo-bar`` share a slug, and names of only emoji or CJK have none; the
    hash of the exact name keeps their files apart.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60].strip("-") or "audience"
    return f"{slug}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:10]}.csv"


def not_a_hashed_identifier(identifier_type: str | None, value: str | None) -> WarehouseError:
    """The error for a mart row that is not a hashed identifier; names no value, only its length."""
    # only a known type name is echoed: a mart with swapped columns could hold an email there
    kind = (
        repr(identifier_type)
        if identifier_type in IDENTIFIER_TYPES
        else f"not a known type, of length {len(identifier_type or '')}"
    )
    return WarehouseError(
        f"The mart holds a row that is not a hashed identifier (type {kind}, value of length "
        f"{len(value or '')}); nothing was uploaded. Rebuild the dbt project and run its tests."
    )


def _checked(batches: Iterable[Sequence[tuple[str, str]]]) -> Iterable[Sequence[tuple[str, str]]]:
    allowed = frozenset(IDENTIFIER_TYPES)
    for batch in batches:
        for identifier_type, value in batch:
            if identifier_type not in allowed or not _HEX64.fullmatch(value or ""):
                raise not_a_hashed_identifier(identifier_type, value)
        yield batch


def file_digest(path: Path) -> tuple[int, str]:
    """The size in bytes and the SHA-256 (hex) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


class _HashingWriter:
    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._fh.write(chunk)
        self.digest.update(chunk)
        self.size += len(chunk)


def write_audience_csv(
    batches: Iterable[Sequence[tuple[str, str]]],
    path: Path,
    *,
    progress: Progress | None = None,
    layout: str = "long",
) -> ExportResult:
    """Write the rows to ``path`` in ``layout`` and return their counts, size and SHA-256.

    ``batches`` must be ordered by type, then hash (the readers' order). Raises ``OSError``
    when the file cannot be written.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    counts: Counter[str] = Counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        out = _HashingWriter(fh)
        if layout == "long":
            out.write(HEADER)
            for batch in _checked(batches):
                for identifier_type, _ in batch:
                    counts[identifier_type] += 1
                out.write("".join(f"{t},{v}\n" for t, v in batch).encode("ascii"))
                if progress is not None:
                    progress.advance(len(batch))
        else:
            _write_wide(_checked(batches), out, counts, progress)
    if progress is not None:
        progress.close()
    return ExportResult(
        path=path,
        counts={t: counts[t] for t in IDENTIFIER_TYPES if counts[t]},
        bytes=out.size,
        sha256=out.digest.hexdigest(),
    )


def _write_wide(
    batches: Iterable[Sequence[tuple[str, str]]],
    out: _HashingWriter,
    counts: Counter[str],
    progress: Progress | None,
) -> None:
    """One spool file per type (memory stays flat), then their lines side by side."""
    with tempfile.TemporaryDirectory(prefix="spotify-audiences-wide-") as scratch:
        spools = {t: open(Path(scratch) / f"{t}.txt", "w+b") for t in IDENTIFIER_TYPES}  # noqa: SIM115
        try:
            for batch in batches:
                for identifier_type, value in batch:
                    counts[identifier_type] += 1
                    spools[identifier_type].write(value.encode("ascii") + b"\n")
                if progress is not None:
                    progress.advance(len(batch))
            present = [t for t in IDENTIFIER_TYPES if counts[t]]
            out.write((",".join(present) + "\n").encode("ascii"))
            for spool in spools.values():
                spool.seek(0)
            readers = [spools[t] for t in present]
            lines: list[bytes] = []
            for _ in range(max((counts[t] for t in present), default=0)):
                cells = [reader.readline().rstrip(b"\n") for reader in readers]
                lines.append(b",".join(cells) + b"\n")
                if len(lines) >= 10_000:
                    out.write(b"".join(lines))
                    lines.clear()
            out.write(b"".join(lines))
        finally:
            for spool in spools.values():
                spool.close()
