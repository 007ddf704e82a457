"""The upload file: ``type,value`` rows streamed from the warehouse to disk, counted and hashed.

Rows arrive in batches from a cursor and leave as bytes, so memory does not grow with the
audience. Each row is checked on the way (a known type, 64 lower-case hex characters): a file
that would upload garbage stops the sync instead of replacing a live audience with it.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from spotify_audiences.errors import WarehouseError
from spotify_audiences.progress import Progress

IDENTIFIER_TYPES = ("EMAIL_ID_SHA256", "PHONE_NUMBER_SHA256", "DEVICE_ID_SHA256")
HEADER = b"type,value\n"

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


def write_audience_csv(
    batches: Iterable[Sequence[tuple[str, str]]], path: Path, *, progress: Progress | None = None
) -> ExportResult:
    """Write ``type,value`` rows to ``path`` and return their counts, size and SHA-256."""
    counts: Counter[str] = Counter()
    digest = hashlib.sha256()
    size = 0
    allowed = frozenset(IDENTIFIER_TYPES)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(HEADER)
        digest.update(HEADER)
        size += len(HEADER)
        for batch in batches:
            lines = []
            for identifier_type, value in batch:
                if identifier_type not in allowed or not _HEX64.fullmatch(value or ""):
                    raise WarehouseError(
                        f"The mart holds a row that is not a hashed identifier (type "
                        f"{identifier_type!r}, value of length {len(value or '')}); nothing was "
                        "uploaded. Rebuild the dbt project and run its tests."
                    )
                counts[identifier_type] += 1
                lines.append(f"{identifier_type},{value}\n")
            chunk = "".join(lines).encode("ascii")
            fh.write(chunk)
            digest.update(chunk)
            size += len(chunk)
            if progress is not None:
                progress.advance(len(batch))
    if progress is not None:
        progress.close()
    return ExportResult(
        path=path,
        counts={t: counts[t] for t in IDENTIFIER_TYPES if counts[t]},
        bytes=size,
        sha256=digest.hexdigest(),
    )
