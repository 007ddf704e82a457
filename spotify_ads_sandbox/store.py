"""In-memory state of a sandbox: tokens, audiences, uploads, upload sessions, rate limits."""

from __future__ import annotations

import math
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .config import SandboxConfig
from .listfile import IDENTIFIER_TYPES, FileReport, inspect_file, read_members


def iso(timestamp: float) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC, the Ads API timestamp format."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def size_band(matched: int) -> dict[str, int]:
    """The approximate audience size shown for ``matched`` users (see the package docstring)."""
    if matched <= 0:
        return {"min": 0, "max": 0}
    step = max(100, 10 ** (len(str(matched)) - 1))
    low = matched // step * step
    return {"min": low, "max": low + step}


@dataclass
class AccessToken:
    client_id: str
    expires_at: float


@dataclass
class RefreshToken:
    client_id: str
    authorized_at: float
    expires_at: float
    pkce: bool
    state: str = "valid"


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    expires_at: float
    used: bool = False


@dataclass
class Upload:
    """One ``upload_url`` answer: the signed object and what was uploaded to it."""

    id: str
    ad_account_id: str
    mode: str  # "new" or "replace"
    target_audience_id: str | None
    object_name: str
    signature: str
    query: str
    url_expires_at: float
    bytes_received: int = 0
    sessions: int = 0
    completed: bool = False
    report: FileReport | None = None
    error: str | None = None
    # The validated file of a finished "new" upload that no create has used yet.
    file_path: Path | None = None
    used_by: str | None = None

    @property
    def audience_id(self) -> str | None:
        """The audience this upload feeds, once known."""
        return self.target_audience_id or self.used_by

    def to_dict(self) -> dict[str, Any]:
        """The public view of the upload (``Sandbox.uploads()``)."""
        report = self.report
        return {
            "id": self.id,
            "ad_account_id": self.ad_account_id,
            "mode": self.mode,
            "audience_id": self.audience_id,
            "sessions": self.sessions,
            "bytes_received": self.bytes_received,
            "size": report.size if report else None,
            "completed": self.completed,
            "validation_error": self.error,
            "used": self.used_by is not None,
            "sha256": report.sha256 if report else None,
            "identifier_counts": dict(report.counts) if report and not self.error else None,
        }


@dataclass
class UploadSession:
    """One GCS resumable session."""

    id: str
    upload_id: str
    part_path: Path
    created_at: float
    expires_at: float
    persisted: int = 0
    total: int | None = None
    completed: bool = False
    state: str = "open"  # "open", "cancelled" or "gone"
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass
class Audience:
    id: str
    ad_account_id: str
    name: str
    description: str | None
    created_at: float
    updated_at: float
    seq: int
    upload_id: str
    file_path: Path
    report: FileReport
    processing_until: float
    previous_size: dict[str, int]
    live: bool = False

    def status(self, now: float) -> str:
        """The current status; processing ends lazily when its deadline has passed."""
        if now < self.processing_until:
            return "PROCESSING"
        if self.live:
            return "LIVE"
        return "BOOKABLE" if self.report.matched else "EMPTY"

    def size(self, now: float) -> dict[str, int]:
        """The approximate size range; the previous one while a list is processed."""
        if now < self.processing_until:
            return dict(self.previous_size)
        return size_band(self.report.matched)

    def to_response(self, now: float, status: str | None = None) -> dict[str, Any]:
        """The ``AudienceResponse`` body."""
        body: dict[str, Any] = {
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "id": self.id,
            "name": self.name,
        }
        if self.description is not None:
            body["description"] = self.description
        body.update(
            type="CUSTOM",
            subtype="CUSTOMER_LIST",
            size=self.size(now) if status is None else {"min": 0, "max": 0},
            status=status or self.status(now),
            sources=["CUSTOMER_LIST"],
            audience_category="CUSTOM",
        )
        return body


@dataclass
class RateWindow:
    started: float
    count: int = 0


@dataclass
class RateState:
    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> list[tuple[str, str]]:
        """The ``X-RateLimit-*`` headers."""
        return [
            ("X-RateLimit-Limit", str(self.limit)),
            ("X-RateLimit-Remaining", str(self.remaining)),
            ("X-RateLimit-Reset", str(self.reset)),
        ]


class Store:
    """Everything a sandbox remembers. Methods that mutate take ``self.lock``."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.signing_key = secrets.token_bytes(32)
        self._own_dir = config.data_dir is None
        self.root = Path(config.data_dir or tempfile.mkdtemp(prefix="spotify-ads-sandbox-"))
        self._init_state()

    def now(self) -> float:
        """The sandbox clock."""
        return self.config.clock()

    def _init_state(self) -> None:
        self.parts_dir = self.root / "sessions"
        self.files_dir = self.root / "files"
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.uploads: dict[str, Upload] = {}
        self.uploads_by_object: dict[str, str] = {}
        self.sessions: dict[str, UploadSession] = {}
        self.audiences: dict[str, Audience] = {}
        self.rate_windows: dict[str, RateWindow] = {}
        self.request_log: list[dict[str, Any]] = []
        self._seq = 0
        now = self.now()
        self.refresh_tokens[self.config.refresh_token] = RefreshToken(
            client_id=self.config.client_id,
            authorized_at=now,
            expires_at=now + self.config.refresh_token_lifetime,
            pkce=False,
            state=self.config.refresh_token_status,
        )

    def reset(self) -> None:
        """Forget everything but issued access tokens, and delete every stored file."""
        with self.lock:
            access_tokens = self.access_tokens
            for directory in (self.parts_dir, self.files_dir):
                shutil.rmtree(directory, ignore_errors=True)
            self._init_state()
            # A client that cached a token across tests keeps working after a reset.
            self.access_tokens = access_tokens

    def close(self) -> None:
        """Delete stored files (and the temporary directory the store created)."""
        with self.lock:
            if self._own_dir:
                shutil.rmtree(self.root, ignore_errors=True)
            else:
                for directory in (self.parts_dir, self.files_dir):
                    shutil.rmtree(directory, ignore_errors=True)

    # --- tokens ---------------------------------------------------------------------------

    def issue_access_token(self, client_id: str) -> str:
        """A new bearer token valid for ``access_token_ttl`` seconds."""
        token = "BQ" + secrets.token_urlsafe(96)
        with self.lock:
            self.access_tokens[token] = AccessToken(
                client_id, self.now() + self.config.access_token_ttl
            )
        return token

    def check_access_token(self, token: str | None) -> tuple[str | None, str]:
        """(client id, "") for a valid token, else (None, "missing"/"invalid"/"expired")."""
        if not token:
            return None, "missing"
        with self.lock:
            record = self.access_tokens.get(token)
            if record is None:
                return None, "invalid"
            if self.now() >= record.expires_at:
                return None, "expired"
            return record.client_id, ""

    def invalidate_access_tokens(self) -> None:
        """Make every issued access token invalid."""
        with self.lock:
            self.access_tokens.clear()

    def issue_refresh_token(self, client_id: str, authorized_at: float, pkce: bool) -> str:
        """A new refresh token tied to an authorization made at ``authorized_at``."""
        token = "AQ" + secrets.token_urlsafe(96)
        with self.lock:
            self.refresh_tokens[token] = RefreshToken(
                client_id,
                authorized_at,
                authorized_at + self.config.refresh_token_lifetime,
                pkce,
            )
        return token

    def set_refresh_token_state(self, token: str | None, state: str) -> int:
        """Mark one refresh token (or all when None) "valid", "expired" or "revoked"."""
        with self.lock:
            targets = [token] if token is not None else list(self.refresh_tokens)
            changed = 0
            for key in targets:
                record = self.refresh_tokens.get(key)
                if record is not None:
                    record.state = state
                    changed += 1
            return changed

    def issue_code(self, client_id: str, redirect_uri: str, code_challenge: str | None) -> str:
        """A single-use authorization code."""
        code = "AQ" + secrets.token_urlsafe(64)
        with self.lock:
            self.codes[code] = AuthorizationCode(
                client_id,
                redirect_uri,
                code_challenge,
                self.now() + self.config.authorization_code_ttl,
            )
        return code

    # --- rate limits ----------------------------------------------------------------------

    def rate(self, key: str, count: bool = True) -> RateState:
        """Count one request of ``key`` (unless ``count`` is False) in its fixed window."""
        limit = self.config.rate_limit
        window_length = self.config.rate_limit_window
        with self.lock:
            now = self.now()
            window = self.rate_windows.get(key)
            if window is None or now >= window.started + window_length:
                window = RateWindow(now)
                self.rate_windows[key] = window
            allowed = window.count < limit
            if count and allowed:
                window.count += 1
            reset = max(1, math.ceil(window.started + window_length - now))
            return RateState(allowed, limit, max(0, limit - window.count), reset)

    # --- uploads --------------------------------------------------------------------------

    def new_upload(self, ad_account_id: str, target_audience_id: str | None) -> Upload:
        """Register an upload for a new list or for replacing ``target_audience_id``."""
        upload_id = str(uuid.uuid4())
        with self.lock:
            upload = Upload(
                id=upload_id,
                ad_account_id=ad_account_id,
                mode="replace" if target_audience_id else "new",
                target_audience_id=target_audience_id,
                object_name=f"customer-lists/{ad_account_id}/{upload_id}.csv",
                signature="",
                query="",
                url_expires_at=self.now() + self.config.upload_url_ttl,
            )
            self.uploads[upload_id] = upload
            self.uploads_by_object[upload.object_name] = upload_id
        return upload

    def new_session(self, upload: Upload) -> UploadSession:
        """Open a resumable session on ``upload``."""
        session_id = secrets.token_urlsafe(48)
        with self.lock:
            now = self.now()
            session = UploadSession(
                id=session_id,
                upload_id=upload.id,
                part_path=self.parts_dir / f"{uuid.uuid4()}.part",
                created_at=now,
                expires_at=now + self.config.upload_session_ttl,
            )
            session.part_path.touch()
            self.sessions[session_id] = session
            upload.sessions += 1
        return session

    def drop_session(self, session: UploadSession, state: str) -> None:
        """End a session ("cancelled" or "gone") and delete its partial bytes."""
        with self.lock:
            session.state = state
            session.part_path.unlink(missing_ok=True)
            if state == "gone":
                self.sessions.pop(session.id, None)

    def finish_session(self, session: UploadSession) -> Upload:
        """Validate a fully persisted session's file and apply it; return its upload."""
        report = inspect_file(
            session.part_path,
            min_identifiers=self.config.min_identifiers,
            max_bytes=self.config.max_file_bytes,
            match_rate=self.config.match_rate,
        )
        with self.lock:
            session.completed = True
            upload = self.uploads[session.upload_id]
            upload.completed = True
            upload.report = report
            upload.error = report.error
            if upload.file_path is not None:
                # A newer object replaces the unused one (GCS overwrites the object).
                upload.file_path.unlink(missing_ok=True)
                upload.file_path = None
            if report.error:
                session.part_path.unlink(missing_ok=True)
                return upload
            final = self.files_dir / f"{upload.id}-{session.id[:16]}.csv"
            session.part_path.replace(final)
            session.part_path = final
            if upload.audience_id is None:
                upload.file_path = final
                return upload
            audience = self.audiences.get(upload.audience_id)
            if audience is None:
                upload.error = f"Audience {upload.audience_id} no longer exists"
                final.unlink(missing_ok=True)
                return upload
            self._replace_list(audience, upload, final, report)
            return upload

    def _replace_list(
        self, audience: Audience, upload: Upload, path: Path, report: FileReport
    ) -> None:
        now = self.now()
        previous = audience.size(now)
        if audience.file_path != path:
            audience.file_path.unlink(missing_ok=True)
        audience.file_path = path
        audience.report = report
        audience.upload_id = upload.id
        audience.previous_size = previous
        audience.processing_until = now + self.config.processing_seconds
        audience.updated_at = now

    # --- audiences ------------------------------------------------------------------------

    def create_audience(
        self, ad_account_id: str, upload_id: str, name: str, description: str | None
    ) -> tuple[Audience | None, str, str]:
        """Create a customer-list audience from a finished upload.

        Returns (audience, "", "") or (None, error code, message).
        """
        with self.lock:
            upload = self.uploads.get(upload_id)
            if upload is None or upload.ad_account_id != ad_account_id:
                return (
                    None,
                    "AUDIENCE.UPLOAD_NOT_FOUND",
                    (
                        f"No upload with id {upload_id} exists in ad account {ad_account_id}; "
                        "request one from the upload_url endpoint and upload the file first"
                    ),
                )
            if upload.mode != "new":
                return (
                    None,
                    "AUDIENCE.UPLOAD_FOR_REPLACEMENT",
                    (
                        f"Upload {upload_id} was issued to replace audience "
                        f"{upload.target_audience_id}; it cannot create a new audience"
                    ),
                )
            if upload.used_by is not None:
                return (
                    None,
                    "AUDIENCE.UPLOAD_ALREADY_USED",
                    (f"Upload {upload_id} was already used to create audience {upload.used_by}"),
                )
            if not upload.completed:
                return (
                    None,
                    "AUDIENCE.UPLOAD_NOT_COMPLETED",
                    (f"The file upload for {upload_id} has not completed"),
                )
            if upload.error or upload.file_path is None or upload.report is None:
                return (
                    None,
                    "AUDIENCE.INVALID_FILE",
                    (f"The uploaded file for {upload_id} is invalid: {upload.error}"),
                )
            now = self.now()
            self._seq += 1
            audience = Audience(
                id=upload.id,
                ad_account_id=ad_account_id,
                name=name,
                description=description,
                created_at=now,
                updated_at=now,
                seq=self._seq,
                upload_id=upload.id,
                file_path=upload.file_path,
                report=upload.report,
                processing_until=now + self.config.processing_seconds,
                previous_size={"min": 0, "max": 0},
            )
            upload.file_path = None
            upload.used_by = audience.id
            self.audiences[audience.id] = audience
            return audience, "", ""

    def delete_audience(self, audience: Audience) -> None:
        """Remove an audience and its list file."""
        with self.lock:
            self.audiences.pop(audience.id, None)
            audience.file_path.unlink(missing_ok=True)

    def touch(self, audience: Audience) -> None:
        """Record an edit."""
        with self.lock:
            self._seq += 1
            audience.seq = self._seq
            audience.updated_at = self.now()

    # --- views ----------------------------------------------------------------------------

    def audience_snapshots(self, ad_account_id: str | None = None) -> list[dict[str, Any]]:
        """``AudienceResponse`` bodies, newest first."""
        with self.lock:
            now = self.now()
            audiences = sorted(
                self.audiences.values(), key=lambda a: (a.updated_at, a.seq), reverse=True
            )
            return [
                a.to_response(now)
                for a in audiences
                if ad_account_id is None or a.ad_account_id == ad_account_id
            ]

    def members(self, audience_id: str) -> set[tuple[str, str]]:
        """The (type, value) pairs of an audience's active list."""
        with self.lock:
            audience = self.audiences[audience_id]
            path = audience.file_path
            # Parse under the lock: a completing replacement would delete this file.
            return read_members(path)

    def file_bytes(self, audience_id: str) -> bytes:
        """The bytes of an audience's active list file."""
        with self.open_file(audience_id) as handle:
            return handle.read()

    def open_file(self, audience_id: str) -> IO[bytes]:
        """An open handle on an audience's active list file (it outlives a replacement)."""
        with self.lock:
            return self.audiences[audience_id].file_path.open("rb")

    def state(self) -> dict[str, Any]:
        """The JSON document of ``GET /_sandbox/state``."""
        with self.lock:
            now = self.now()
            audiences = []
            for a in sorted(self.audiences.values(), key=lambda a: a.seq):
                audiences.append(
                    {
                        "id": a.id,
                        "ad_account_id": a.ad_account_id,
                        "name": a.name,
                        "description": a.description,
                        "status": a.status(now),
                        "size": a.size(now),
                        "live": a.live,
                        "upload_id": a.upload_id,
                        "identifier_counts": {t: a.report.counts[t] for t in IDENTIFIER_TYPES},
                        "identifiers": a.report.identifiers,
                        "file_sha256": a.report.sha256,
                        "file_bytes": a.report.size,
                        "created_at": iso(a.created_at),
                        "updated_at": iso(a.updated_at),
                    }
                )
            return {
                "ad_account_id": self.config.ad_account_id,
                "audiences": audiences,
                "uploads": [u.to_dict() for u in self.uploads.values()],
            }

    def log_request(self, method: str, path: str, status: int | None, fault: str | None) -> None:
        """Append to the request log."""
        with self.lock:
            self.request_log.append(
                {"method": method, "path": path, "status": status, "fault": fault}
            )
