"""The Google Cloud Storage resumable upload that Spotify's signed upload URLs expect.

``POST <signed url>`` with ``x-goog-resumable: start`` opens a session (201 + ``Location``);
the file then goes up in ``PUT`` chunks with ``Content-Range``. After a broken connection or a
5xx, the session is asked how much it holds (``Content-Range: bytes */TOTAL``) and the upload
continues from there; it starts over only when the session is gone. A session that keeps
answering 308 without holding more bytes than before is given ``MAX_STALLS`` more tries, with
backoff, then the upload fails. The file is read chunk by chunk from disk, so memory does not
grow with its size.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import requests

from spotify_audiences.config import CHUNK_GRANULARITY, DEFAULT_CHUNK_SIZE, check_endpoint
from spotify_audiences.errors import (
    ConfigError,
    DeadlineExceededError,
    NetworkError,
    UploadError,
)
from spotify_audiences.progress import Progress
from spotify_audiences.transport import Retry, Transport

log = logging.getLogger(__name__)

_RANGE = re.compile(r"bytes=0-(\d+)")
MAX_SESSION_RESTARTS = 2
MAX_RESUMES = 20
MAX_STALLS = 5


@dataclass
class UploadReport:
    """What one upload took: bytes put on the wire (re-sent bytes count again), resumes."""

    size: int
    bytes_sent: int = 0
    resumes: int = 0
    restarts: int = 0


class _FileSlice:
    """A read-only window on an open file, streamed by requests with a Content-Length."""

    def __init__(
        self,
        fh: BinaryIO,
        start: int,
        length: int,
        report: UploadReport,
        progress: Progress | None = None,
    ) -> None:
        self._progress = progress
        self._fh = fh
        self._start = start
        self._length = length
        self._report = report
        self.rewind()

    def rewind(self) -> None:
        """Back to the first byte, for a repeat of the same request (after a 429)."""
        self._fh.seek(self._start)
        self._left = self._length

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._fh.read(size)
        self._left -= len(data)
        self._report.bytes_sent += len(data)
        if self._progress is not None:
            self._progress.advance(len(data))
        return data


class _SessionGone(Exception):
    pass


def validate_chunk_size(chunk_size: int) -> int:
    """GCS wants every chunk but the last to be a multiple of 256 KiB."""
    if chunk_size <= 0 or chunk_size % CHUNK_GRANULARITY:
        raise ConfigError(
            f"The upload chunk size must be a positive multiple of 256 KiB ({CHUNK_GRANULARITY} "
            f"bytes); got {chunk_size}."
        )
    return chunk_size


class ResumableUploader:
    """Uploads one file to a signed URL through a GCS resumable session."""

    def __init__(
        self,
        transport: Transport,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        show_progress: bool = True,
    ) -> None:
        self._transport = transport
        self.chunk_size = validate_chunk_size(chunk_size)
        self.show_progress = show_progress
        self._progress: Progress | None = None

    def upload(
        self, upload_url: str, path: Path, *, content_type: str = "text/csv"
    ) -> UploadReport:
        """Upload ``path`` completely, or raise :class:`UploadError` / :class:`NetworkError`."""
        check_endpoint(upload_url, what="The signed upload URL")
        try:
            return self._upload(upload_url, path, content_type)
        except DeadlineExceededError as exc:
            raise DeadlineExceededError(
                f"The file upload did not finish: {exc.message}",
                hint="The audience was not changed. Raise --deadline, or run the sync again.",
            ) from None
        except NetworkError as exc:
            raise NetworkError(
                f"The file upload did not finish: {exc.message}",
                hint="The audience was not changed. Check the network; for large files raise "
                f"--timeout (now {self._transport.timeout:g} s per request) or lower "
                "--chunk-size, then run the sync again.",
            ) from None

    def _upload(self, upload_url: str, path: Path, content_type: str) -> UploadReport:
        size = os.path.getsize(path)
        report = UploadReport(size=size)
        if self.show_progress:
            self._progress = Progress(f"upload {path.name}", total=size, unit="bytes")
        with open(path, "rb") as fh:
            while True:
                session = self._start(upload_url, content_type)
                try:
                    self._send(session, fh, size, report)
                    if self._progress is not None:
                        self._progress.close()
                    return report
                except _SessionGone:
                    report.restarts += 1
                    if report.restarts > MAX_SESSION_RESTARTS:
                        raise UploadError(
                            "The upload session kept disappearing; nothing was replaced.",
                            hint="Run the sync again.",
                        ) from None
                    log.info("upload session is gone; starting a new session from byte 0")

    def _start(self, upload_url: str, content_type: str) -> str:
        response = self._transport.request(
            "POST",
            upload_url,
            headers={
                "x-goog-resumable": "start",
                "Content-Type": content_type,
                "Content-Length": "0",
            },
            data=b"",
            # Opening a session has no effect until bytes arrive, so it may be repeated.
            retry=Retry.READ,
            what="open the upload session",
        )
        if response.status_code not in (200, 201):
            raise _storage_error(response, "Opening the upload session")
        location = response.headers.get("Location")
        if not location:
            raise UploadError("The storage service opened no upload session (no Location).")
        return check_endpoint(location, what="The upload session URL")

    def _send(self, session: str, fh: BinaryIO, size: int, report: UploadReport) -> None:
        offset = 0
        confirmed = 0  # the most bytes the session has said it holds
        failures = 0
        stalls = 0
        while True:
            length = min(self.chunk_size, size - offset)
            if size == 0:
                content_range = "bytes */0"
            else:
                content_range = f"bytes {offset}-{offset + length - 1}/{size}"
            try:
                response = self._transport.request(
                    "PUT",
                    session,
                    headers={"Content-Range": content_range, "Content-Length": str(length)},
                    data=_FileSlice(fh, offset, length, report, self._progress) if length else b"",
                    retry=Retry.WRITE,
                    what="upload a chunk",
                )
            except DeadlineExceededError:
                raise
            except NetworkError:
                response = None
            if response is not None and response.status_code in (200, 201):
                return
            if response is not None and response.status_code == 308:
                offset = _persisted(response)
                if offset > confirmed:
                    confirmed, failures, stalls = offset, 0, 0
                    continue
                stalls += 1
                self._stalled(stalls, confirmed, size)
                continue
            if response is not None and response.status_code in (404, 410):
                raise _SessionGone
            if response is not None and response.status_code < 500 and response.status_code != 429:
                raise _storage_error(response, "Uploading the file")
            failures += 1
            if failures > MAX_RESUMES:
                raise UploadError(
                    "The upload kept failing; the audience was not changed.",
                    hint="Check the network and run the sync again.",
                )
            report.resumes += 1
            offset = self._query_offset(session, size)
            if offset >= size:
                return
            confirmed = max(confirmed, offset)
            log.info("upload interrupted; resuming at byte %d of %d", offset, size)

    def _stalled(self, stalls: int, confirmed: int, size: int) -> None:
        """A 308 that holds no more bytes than before: back off, or give up after a few."""
        why = (
            f"upload a chunk: the storage service still holds {confirmed:,} of {size:,} bytes "
            f"(no progress, {stalls} time(s))"
        )
        if stalls > MAX_STALLS or not self._transport.pause(stalls, why):
            raise UploadError(
                f"The upload made no progress: the storage service accepted the chunk at byte "
                f"{confirmed:,} of {size:,} {stalls} times without keeping it; the audience was "
                "not changed.",
                hint="Run the sync again later; if it keeps happening, report it to Spotify "
                "with the time of the sync.",
            )

    def _query_offset(self, session: str, size: int) -> int:
        response = self._transport.request(
            "PUT",
            session,
            headers={"Content-Range": f"bytes */{size}", "Content-Length": "0"},
            data=b"",
            retry=Retry.READ,
            what="ask the upload session for its offset",
        )
        if response.status_code in (200, 201):
            return size
        if response.status_code == 308:
            return _persisted(response)
        if response.status_code in (404, 410):
            raise _SessionGone
        raise _storage_error(response, "Resuming the upload")


def _persisted(response: requests.Response) -> int:
    match = _RANGE.fullmatch(response.headers.get("Range", "").strip())
    return int(match.group(1)) + 1 if match else 0


def _storage_error(response: requests.Response, doing: str) -> UploadError:
    status = response.status_code
    detail = ""
    code = re.search(r"<Code>([^<]+)</Code>", response.text or "")
    if code:
        detail = f" ({code.group(1)})"
    hint = "The audience was not changed; run the sync again later."
    if status == 403:
        hint = "The signed upload URL was refused (expired or invalid); run the sync again."
    return UploadError(f"{doing} failed: HTTP {status}{detail}.", hint=hint)
