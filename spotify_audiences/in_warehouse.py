"""The sync started from inside the warehouse: the Snowflake procedure and the DuckDB post-hook.

Both receive the same request, the audiences to sync and an ``options`` mapping, and answer
with one summary per audience, the objects that ``sync --json`` prints. A failed audience makes
the call fail (so that a dbt post-hook or a Snowflake task shows the failure) unless the
request says ``raise_on_failure: false``; the error message carries the whole summary.

Options (all optional):

==================== =====================================================================
``audience_ids``     ``{name: audience id}``: replace this Spotify audience for ``name``
``min_identifiers``  refuse smaller audiences (default 1,000, Spotify's minimum)
``max_bytes``        refuse larger files (default 1 GiB, Spotify's maximum)
``description``      description of the audiences this sync creates
``dry_run``          build and check the files, send nothing, need no credentials
``chunk_size``       upload chunk in bytes, a multiple of 256 KiB
``timeout``          seconds per HTTP request
``deadline``         seconds for the whole sync
``ads_api_url``      the Ads API base URL (default Spotify's; tests point it at the sandbox)
``accounts_url``     the Accounts base URL (default Spotify's)
``raise_on_failure`` default true
``config``           the project's per-audience settings (the dbt var
                     ``spotify_audiences_config``), where the core supports them
==================== =====================================================================

Any other boolean field of :class:`~spotify_audiences.sync.SyncOptions` (``force``, ...) is
passed through.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spotify_audiences.ads import TokenProvider
from spotify_audiences.auth import RefreshTokenSink
from spotify_audiences.config import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_TIMEOUT_SECONDS,
    ProjectConfig,
    SpotifySettings,
    check_endpoint,
)
from spotify_audiences.errors import ConfigError, SpotifyAudiencesError
from spotify_audiences.ledger import Ledger
from spotify_audiences.status import check_status
from spotify_audiences.sync import AudienceResult, MirrorSync, SyncOptions, connect
from spotify_audiences.warehouse import MartReader

log = logging.getLogger(__name__)

# Resolves credentials only when the sync is about to talk to Spotify (never for a dry run):
# settings in, settings (with credentials) and an optional token provider out.
Credentials = Callable[[SpotifySettings], tuple[SpotifySettings, TokenProvider | None]]

_RENAMED = {"max_bytes": "max_file_bytes"}
_TYPES: dict[str, tuple[type, ...]] = {
    "audience_ids": (dict,),
    "min_identifiers": (int,),
    "max_bytes": (int,),
    "description": (str,),
    "dry_run": (bool,),
    "chunk_size": (int,),
    "timeout": (int, float),
    "deadline": (int, float),
    "ads_api_url": (str,),
    "accounts_url": (str,),
    "raise_on_failure": (bool,),
    "config": (dict,),
    "status": (bool,),
}
_TRAILING_SLASH = re.compile(r"/+$")


def _passthrough_flags() -> set[str]:
    """Boolean fields of SyncOptions that a request may set by name (e.g. ``force``)."""
    return {f.name for f in dataclasses.fields(SyncOptions) if isinstance(f.default, bool)}


@dataclass(frozen=True)
class SyncRequest:
    """A validated request from a procedure call or a post-hook."""

    audiences: list[str] | None = None
    options: SyncOptions = field(default_factory=SyncOptions)
    dry_run: bool = False
    status: bool = False
    raise_on_failure: bool = True
    chunk_size: int = DEFAULT_CHUNK_SIZE
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    deadline: float | None = None
    ads_api_url: str | None = None
    accounts_url: str | None = None

    @classmethod
    def parse(
        cls, audiences: Sequence[str] | str | None, options: Mapping[str, Any] | None
    ) -> SyncRequest:
        """Validate the two arguments as they arrive from SQL (JSON-like values)."""
        if isinstance(audiences, str):
            audiences = [audiences]
        names = [str(a) for a in audiences] if audiences else None
        raw = dict(options or {})
        flags = _passthrough_flags()
        unknown = sorted(set(raw) - set(_TYPES) - flags)
        if unknown:
            raise ConfigError(
                f"Unknown sync option(s): {', '.join(unknown)}. Known: "
                f"{', '.join(sorted(set(_TYPES) | flags))}."
            )
        for key, value in raw.items():
            allowed = _TYPES.get(key, (bool,))
            numeric = allowed != (bool,) and isinstance(value, bool)
            if value is not None and (numeric or not isinstance(value, allowed)):
                names_of = " or ".join(t.__name__ for t in allowed)
                raise ConfigError(f"Sync option {key} must be a {names_of}, got {value!r}.")
        values = {k: v for k, v in raw.items() if v is not None}
        sync_fields = {
            _RENAMED.get(k, k): v
            for k, v in values.items()
            if k in flags or k in ("audience_ids", "min_identifiers", "max_bytes", "description")
        }
        if "config" in values:
            sync_fields["config"] = _project_config(values["config"])
        if "audience_ids" in sync_fields:
            sync_fields["audience_ids"] = {
                str(k): str(v) for k, v in sync_fields["audience_ids"].items()
            }
        return cls(
            audiences=names,
            options=SyncOptions(**sync_fields),
            dry_run=bool(values.get("dry_run", False)),
            status=bool(values.get("status", False)),
            raise_on_failure=bool(values.get("raise_on_failure", True)),
            chunk_size=int(values.get("chunk_size", DEFAULT_CHUNK_SIZE)),
            timeout=float(values.get("timeout", DEFAULT_TIMEOUT_SECONDS)),
            deadline=float(values["deadline"]) if "deadline" in values else None,
            ads_api_url=values.get("ads_api_url"),
            accounts_url=values.get("accounts_url"),
        )

    def with_endpoints(self, settings: SpotifySettings) -> SpotifySettings:
        """``settings`` with this request's endpoint overrides (checked like env values)."""
        changes = {}
        for name, value in (("ads_api_url", self.ads_api_url), ("accounts_url", self.accounts_url)):
            if value:
                changes[name] = check_endpoint(_TRAILING_SLASH.sub("", value), what=name)
        return dataclasses.replace(settings, **changes) if changes else settings


def _project_config(raw: Mapping[str, Any]) -> ProjectConfig:
    return ProjectConfig.from_mapping(raw)


class SyncFailedError(SpotifyAudiencesError):
    """At least one audience did not sync; the message holds every audience's summary."""

    def __init__(self, results: Sequence[dict[str, Any]]) -> None:
        failed = [r for r in results if r.get("error")]
        detail = "; ".join(
            f"{r['audience_name']!r} {r.get('action', 'status check')}: {r['error']}"
            for r in failed
        )
        super().__init__(
            f"{len(failed)} of {len(results)} audiences did not sync: {detail}. "
            f"Summary: {json.dumps(list(results), sort_keys=True)}"
        )
        self.results = list(results)
        self.exit_code = next((int(r.get("exit_code") or 1) for r in failed), 1)


def run_sync(
    reader: MartReader,
    settings: SpotifySettings,
    request: SyncRequest,
    *,
    credentials: Credentials | None = None,
    sink: RefreshTokenSink | None = None,
    ledger: Ledger | None = None,
) -> list[dict[str, Any]]:
    """Sync as requested and return one ``sync --json`` object per audience.

    ``credentials`` is called only when the sync will talk to Spotify; without it the settings
    must already hold a refresh token. ``ledger`` is the sync history, as for the CLI. Raises
    :class:`SyncFailedError` when an audience failed and the request does not say otherwise.
    """
    settings = request.with_endpoints(settings)
    if request.status:
        return _run_status(settings, request, credentials=credentials, sink=sink, ledger=ledger)
    with tempfile.TemporaryDirectory(prefix="spotify-audiences-dry-run-") as scratch:
        options = request.options
        connection = None
        if request.dry_run:
            options = dataclasses.replace(options, dry_run_dir=Path(scratch))
        else:
            tokens = None
            if credentials is not None:
                settings, tokens = credentials(settings)
            connection = connect(
                settings,
                timeout=request.timeout,
                chunk_size=request.chunk_size,
                deadline_seconds=request.deadline,
                sink=sink,
                tokens=tokens,
            )
        try:
            runner = MirrorSync(
                reader,
                settings=settings,
                client=connection.client if connection else None,
                uploader=connection.uploader if connection else None,
                options=options,
                ledger=ledger,
            )
            results = [_summary(r) for r in runner.run(request.audiences)]
        finally:
            if connection is not None:
                connection.close()
    if request.raise_on_failure and any(r["error"] for r in results):
        raise SyncFailedError(results)
    return results


def _run_status(
    settings: SpotifySettings,
    request: SyncRequest,
    *,
    credentials: Credentials | None,
    sink: RefreshTokenSink | None,
    ledger: Ledger | None,
) -> list[dict[str, Any]]:
    """``options => {'status': true}``: the status write-back, as ``spotify-audiences status``."""
    if ledger is None:
        raise ConfigError("The status check reads the sync ledger, and none was given.")
    tokens = None
    if credentials is not None:
        settings, tokens = credentials(settings)
    connection = connect(settings, timeout=request.timeout, sink=sink, tokens=tokens)
    try:
        rows = check_status(connection.client, ledger, settings.account_id)
    finally:
        connection.close()
    if request.raise_on_failure and any(r.get("error") for r in rows):
        raise SyncFailedError(rows)
    return rows


def _summary(result: AudienceResult) -> dict[str, Any]:
    summary = result.to_json()
    # a dry run's file lived in a scratch directory that is gone once the call returns
    summary["file"] = None
    return summary
