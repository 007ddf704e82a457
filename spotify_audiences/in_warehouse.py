"""The one entry point of a sync, for every host: the CLI, the DuckDB post-hook, the procedure.

A host builds a :class:`SyncRequest` (the audiences and the options) and calls :func:`run_sync`
with a way to open the marts; :func:`run_sync` resolves the Spotify credentials, opens the
marts, applies the test gate, connects to Spotify, syncs each audience to its ad account and
records every attempt in the ledger beside the marts. The hosts only turn the results (one
``sync --json`` object per audience) into their output. A failed audience makes the call fail
(so that a dbt post-hook or a Snowflake task shows the failure) unless the request says
``raise_on_failure: false``; the error message carries the whole summary.

Options of the procedure and the post-hook (all optional; the CLI has a flag for each):

======================== =================================================================
``audience_ids``         ``{name: audience id}``: replace this Spotify audience for ``name``
``min_identifiers``      refuse smaller audiences (default: each audience's setting)
``max_bytes``            refuse larger files (default 1 GiB, Spotify's maximum)
``description``          description of the audiences this sync creates (at most 80 chars)
``layout``               the upload file's layout: ``long`` (default, ``type,value`` rows) or
                         ``wide`` (one column per identifier type)
``retire``               names to record as retired in the ledger and stop syncing (the
                         Spotify audiences are left as they are)
``dry_run``              build and check the files, send nothing, need no credentials
``chunk_size``           upload chunk in bytes, a multiple of 256 KiB
``timeout``              seconds per HTTP request
``deadline``             seconds for the whole sync
``ads_api_url``          the Ads API base URL (default Spotify's; tests point it at the sandbox)
``accounts_url``         the Accounts base URL (default Spotify's)
``raise_on_failure``     default true
``ignore_test_failures`` sync although the last dbt build had failed tests (the ledger says so)
``test_gate``            default true; false skips the test gate, for the dbt post-hook only
                         (dbt runs it after every test upstream has passed)
``status``               check the status of every synced audience instead of syncing
``config``               the ``spotify_audiences_config`` var, used only when the summary
                         mart has no settings columns (built by an older version)
======================== =================================================================

Any other boolean field of :class:`~spotify_audiences.sync.SyncOptions` (``force``, ...) is
passed through.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from spotify_audiences.ads import TokenProvider
from spotify_audiences.auth import RefreshTokenSink
from spotify_audiences.config import (
    CHUNK_GRANULARITY,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_TIMEOUT_SECONDS,
    ProjectConfig,
    SpotifySettings,
    check_endpoint,
)
from spotify_audiences.credentials import (
    TokenStore,
    settings_with_stored_token,
    warn_refresh_token_age,
)
from spotify_audiences.errors import ConfigError, RefusedError, SpotifyAudiencesError
from spotify_audiences.status import check_status
from spotify_audiences.sync import MirrorSync, SyncOptions, connect
from spotify_audiences.warehouse import BUILD_LOG, MartReader

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
    "layout": (str,),
    "retire": (list,),
    "dry_run": (bool,),
    "chunk_size": (int,),
    "timeout": (int, float),
    "deadline": (int, float),
    "ads_api_url": (str,),
    "accounts_url": (str,),
    "raise_on_failure": (bool,),
    "config": (dict,),
    "status": (bool,),
    "ignore_test_failures": (bool,),
    "test_gate": (bool,),
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
    ignore_test_failures: bool = False
    test_gate: bool = True
    progress: bool = False  # progress lines on an interactive terminal (the CLI)

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
            if k in flags
            or k in ("audience_ids", "min_identifiers", "max_bytes", "description", "layout")
        }
        if "retire" in values:
            sync_fields["retire"] = tuple(str(n) for n in values["retire"])
        for key in ("timeout", "deadline"):
            if key in values and not (math.isfinite(values[key]) and values[key] > 0):
                raise ConfigError(f"Sync option {key} must be a positive number of seconds.")
        chunk = values.get("chunk_size", DEFAULT_CHUNK_SIZE)
        if chunk <= 0 or chunk % CHUNK_GRANULARITY:
            raise ConfigError(
                f"Sync option chunk_size must be a positive multiple of {CHUNK_GRANULARITY} "
                f"bytes (256 KiB), got {chunk}."
            )
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
            ignore_test_failures=bool(values.get("ignore_test_failures", False)),
            test_gate=bool(values.get("test_gate", True)),
        )

    def with_endpoints(self, settings: SpotifySettings) -> SpotifySettings:
        """``settings`` with this request's endpoint overrides (checked like env values)."""
        changes = {}
        for name, value in (("ads_api_url", self.ads_api_url), ("accounts_url", self.accounts_url)):
            if value:
                changes[name] = check_endpoint(_TRAILING_SLASH.sub("", value), what=name)
        return dataclasses.replace(settings, **changes) if changes else settings


def check_ports(settings: SpotifySettings) -> None:
    """Refuse an endpoint URL whose port is not a number from 0 to 65535, before any call."""
    urls = (("ads_api_url", settings.ads_api_url), ("accounts_url", settings.accounts_url))
    for what, url in urls:
        try:
            urlsplit(url).port  # noqa: B018 - parsing the port is the check
        except ValueError:
            raise ConfigError(
                f"The {what} endpoint has an invalid port (ports are 0 to 65535)."
            ) from None


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


class FailedTestsError(RefusedError):
    """The build that produced the marts had failing, erroring or skipped tests."""


def check_tests(reader: MartReader, request: SyncRequest) -> bool | None:
    """The test gate: refuse when the last dbt build's tests failed, unless told to ignore it.

    Returns what the ledger records in ``ignored_test_failures``: True when failures were
    ignored, False when the gate passed, None when it did not apply (the post-hook).
    """
    if not request.test_gate:
        return None
    build = reader.latest_build()
    if build is None:
        log.warning(
            "No dbt build recorded in %s beside the marts: the sync cannot tell whether their "
            "tests passed (build them with this version of the dbt package). Syncing with the "
            "guards only.",
            BUILD_LOG,
        )
        return False
    if build.tests_failed <= 0:
        return False
    failed = (
        ", ".join(f"{t.get('name')} ({t.get('status', 'fail')})" for t in build.failed_tests)
        or f"{build.tests_failed} test(s)"
    )
    recorded = build.recorded_at
    when = f" at {recorded:%Y-%m-%d %H:%M} UTC" if isinstance(recorded, datetime) else ""
    which = (
        f"The last dbt {build.dbt_command or 'invocation'} on these marts "
        f"(target {build.target_name!r}{when}, invocation {build.invocation_id})"
    )
    if request.ignore_test_failures:
        log.warning(
            "%s had %d failed test(s): %s. Syncing anyway (--ignore-test-failures); the ledger "
            "records it.",
            which,
            build.tests_failed,
            failed,
        )
        return True
    raise FailedTestsError(
        f"{which} had {build.tests_failed} failed test(s): {failed}. Nothing was synced.",
        hint="Fix them and run `dbt build` again, or sync anyway with --ignore-test-failures "
        "(the procedure: options => {'ignore_test_failures': true}).",
    )


def run_sync(
    open_reader: Callable[[], MartReader],
    settings: SpotifySettings,
    request: SyncRequest,
    *,
    credentials: Credentials | None = None,
    sink: RefreshTokenSink | None = None,
    token_store: TokenStore | None = None,
) -> list[dict[str, Any]]:
    """Sync as requested and return one ``sync --json`` object per audience.

    ``open_reader`` opens the marts (the reader also gives the ledger beside them, and is
    closed here). ``credentials`` is called only when the sync will talk to Spotify; without
    it, the refresh token is the settings', else the one ``spotify-audiences login`` saved in
    ``token_store`` (which also receives rotations). Raises :class:`SyncFailedError` when an
    audience failed and the request does not say otherwise, :class:`FailedTestsError` when
    the test gate refuses.
    """
    settings = request.with_endpoints(settings)
    if not request.dry_run:
        check_ports(settings)
    tokens = None
    if not request.dry_run:
        settings.validated(require_credentials=False, require_account=False)
        if credentials is not None:
            settings, tokens = credentials(settings)
        else:
            settings, sink = settings_with_stored_token(settings, token_store)
            warn_refresh_token_age(sink)
        settings.validated(require_credentials=tokens is None, require_account=False)
    reader = open_reader()
    try:
        if request.status:
            rows = _run_status(reader, settings, request, sink=sink, tokens=tokens)
            if request.raise_on_failure and any(r.get("error") for r in rows):
                raise SyncFailedError(rows)
            return rows
        ignored = check_tests(reader, request)
        results = _run_mirror(reader, settings, request, ignored, sink=sink, tokens=tokens)
    finally:
        reader.close()
    if request.raise_on_failure and any(r["error"] for r in results):
        raise SyncFailedError(results)
    return results


def _run_mirror(
    reader: MartReader,
    settings: SpotifySettings,
    request: SyncRequest,
    ignored_test_failures: bool | None,
    *,
    sink: RefreshTokenSink | None,
    tokens: TokenProvider | None,
) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="spotify-audiences-dry-run-") as scratch:
        options = request.options
        scratch_files = request.dry_run and options.dry_run_dir is None
        connection = None
        if scratch_files:
            options = dataclasses.replace(options, dry_run_dir=Path(scratch))
        if options.dry_run_dir is None:
            connection = connect(
                settings,
                timeout=request.timeout,
                chunk_size=request.chunk_size,
                deadline_seconds=request.deadline,
                sink=sink,
                tokens=tokens,
                show_progress=request.progress,
            )
        try:
            runner = MirrorSync(
                reader,
                settings=settings,
                client=connection.client if connection else None,
                uploader=connection.uploader if connection else None,
                options=options,
                ledger=reader.ledger(),
                ignored_test_failures=ignored_test_failures,
            )
            results = []
            for result in runner.run(request.audiences):
                summary = result.to_json()
                if scratch_files:  # the file lived in a scratch directory gone on return
                    summary["file"] = None
                results.append(summary)
        finally:
            if connection is not None:
                connection.close()
    return results


def _run_status(
    reader: MartReader,
    settings: SpotifySettings,
    request: SyncRequest,
    *,
    sink: RefreshTokenSink | None,
    tokens: TokenProvider | None,
) -> list[dict[str, Any]]:
    """The status write-back of every ad account in the ledger, the summary or the settings."""
    ledger = reader.ledger()
    accounts = set(ledger.accounts())
    for values in (reader.audience_settings() or {}).values():
        if values.get("ad_account_id"):
            accounts.add(str(values["ad_account_id"]).strip().lower())
    if settings.ad_account_id:
        accounts.add(settings.account_id)
    connection = connect(settings, timeout=request.timeout, sink=sink, tokens=tokens)
    try:
        rows: list[dict[str, Any]] = []
        for account in sorted(accounts):
            rows += check_status(connection.client, ledger, account)
    finally:
        connection.close()
    return rows
