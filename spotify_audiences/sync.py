"""The mirror sync: each audience in the mart replaces the whole list of its Spotify audience.

Per audience, in this order: check the name and settings, stream the file out of the
warehouse, check the guards (nothing has touched the network yet), then find the audience (a
configured id wins; else the id the ledger recorded for this name and ad account, if Spotify
still has it; else the one audience with exactly that name; else a new one), record the intent
(a ``pending`` ledger row with the fingerprint about to be uploaded), upload, create the
audience if it is new, and record the outcome. A failure at any step leaves the Spotify
audience as it was: the list is replaced only when the upload completes, and a new audience is
created only after its file is fully uploaded. A sync killed after the intent leaves the
pending row as the audience's latest attempt, so the next sync uploads instead of trusting an
"unchanged" fingerprint.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spotify_audiences.ads import AdsClient, TokenProvider
from spotify_audiences.auth import AccessTokens, RefreshTokenSink
from spotify_audiences.config import (
    CONFIG_VAR,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_TIMEOUT_SECONDS,
    ENV_AD_ACCOUNT_ID,
    MAX_FILE_BYTES,
    AudienceConfig,
    ProjectConfig,
    SpotifySettings,
    audience_config,
    validate_audience_name,
    validate_uuid,
)
from spotify_audiences.errors import (
    EXIT_FAILED,
    EXIT_OK,
    AmbiguousAudienceError,
    ConfigError,
    NetworkError,
    NotFoundError,
    RefusedError,
    SpotifyApiError,
    SpotifyAudiencesError,
    WarehouseError,
)
from spotify_audiences.export import LAYOUTS, ExportResult, audience_file_name, write_audience_csv
from spotify_audiences.ledger import PENDING, SUCCESS_ACTIONS, Ledger, SyncRecord
from spotify_audiences.progress import Progress
from spotify_audiences.transport import Clock, Deadline, RetryPolicy, SystemClock, Transport
from spotify_audiences.upload import ResumableUploader
from spotify_audiences.warehouse import SETTINGS_COLUMNS, SUMMARY, MartReader

log = logging.getLogger(__name__)

CREATED = "created"
REPLACED = "replaced"
DRY_RUN = "dry_run"
UNCHANGED = "unchanged"
FAILED = "failed"
REFUSED = "refused"
RETIRED = "retired"
DESCRIPTION_MAX = 80
RETIRE_NOTE = (
    "no longer synced; the Spotify audience keeps its last list (Spotify has no endpoint to "
    "delete members: delete the audience in Ads Manager if it must stop being targetable)"
)


class OutputError(SpotifyAudiencesError):
    """A local file could not be written (a full disk, a directory that is not writable)."""

    exit_code = EXIT_FAILED


def check_description(description: str | None, what: str) -> None:
    """Spotify accepts audience descriptions of at most 80 characters."""
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise ConfigError(
            f"{what} has {len(description)} characters; Spotify accepts at most "
            f"{DESCRIPTION_MAX}. Nothing was sent."
        )


@dataclass(frozen=True)
class SyncOptions:
    """How to sync; every field has the safe default."""

    # Overrides of the per-audience settings (None: the audience's, as the build resolved them)
    min_identifiers: int | None = None
    max_file_bytes: int = MAX_FILE_BYTES
    audience_ids: Mapping[str, str] = field(default_factory=dict)
    dry_run_dir: Path | None = None
    description: str | None = None
    # Only when the summary mart has no settings columns (built by an older version): the
    # var's value, or the dbt project whose dbt_project.yml holds it.
    config: ProjectConfig = field(default_factory=ProjectConfig)
    config_project_dir: Path | None = None
    force: bool = False
    allow_shrink: bool = False
    progress: bool = False  # a progress line on an interactive terminal
    # The Snowflake procedure's allow-list (fixed at setup); None: any account
    allowed_ad_accounts: tuple[str, ...] | None = None
    layout: str = "long"  # the upload file's layout: long (type,value) or wide
    # Audiences to stop syncing: recorded as retired in the ledger, left as they are in Spotify
    retire: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ConfigError(f"Unknown layout {self.layout!r}: use one of {', '.join(LAYOUTS)}.")
        check_description(self.description, "The description")


@dataclass
class AudienceResult:
    """What happened to one audience; also the JSON line of ``sync --json``."""

    audience_name: str
    action: str
    audience_id: str | None = None
    ad_account_id: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    suppressed: dict[str, int] = field(default_factory=dict)
    layout: str | None = None
    bytes: int = 0
    sha256: str | None = None
    upload_id: str | None = None
    status: str | None = None
    added: int | None = None
    removed: int | None = None
    file: str | None = None
    error: str | None = None
    error_class: str | None = None
    sp_trace_id: str | None = None
    exit_code: int = EXIT_OK
    # Other audiences with the same name in the ad account (reported, never synced to)
    duplicates: list[str] | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the audience synced (or, in a dry run, its file was written)."""
        return self.action in (CREATED, REPLACED, UNCHANGED, DRY_RUN, RETIRED)

    @property
    def identifiers(self) -> int:
        """Identifiers in the file."""
        return sum(self.counts.values())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with no raw identifiers, tokens or URLs in it."""
        return asdict(self)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class MirrorSync:
    """Syncs audiences from a :class:`MartReader` to Spotify (or to files, in a dry run)."""

    def __init__(
        self,
        reader: MartReader,
        *,
        settings: SpotifySettings,
        client: AdsClient | None = None,
        uploader: ResumableUploader | None = None,
        options: SyncOptions | None = None,
        ledger: Ledger | None = None,
        run_id: str | None = None,
        ignored_test_failures: bool | None = None,
    ) -> None:
        self._reader = reader
        self.ignored_test_failures = ignored_test_failures
        self._settings = settings
        self._client = client
        self._uploader = uploader
        self._ledger = ledger
        self.run_id = run_id or str(uuid.uuid4())
        self.options = options or SyncOptions()
        if self.options.dry_run_dir is None and (client is None or uploader is None):
            raise ValueError("a sync that is not a dry run needs a client and an uploader")
        for name, audience_id in self.options.audience_ids.items():
            validate_uuid(audience_id, what=f"The audience id configured for {name!r}")

    def run(self, audience_names: Sequence[str] | None = None) -> list[AudienceResult]:
        """Sync the named audiences, or every audience in the mart, each to its ad account.

        Audiences synced before that have vanished from the mart are included too, each with
        the ad account it was synced to: an empty upstream must meet the guards, not be
        skipped in silence.
        """
        built = self._reader.audience_settings()
        if built is None:
            if self.options.config_project_dir is not None:
                self.options = replace(
                    self.options,
                    config=ProjectConfig.from_project(self.options.config_project_dir),
                )
            log.warning(
                "%s has no settings columns (built by an older version of the package): using "
                "the spotify_audiences_config of dbt_project.yml, else the defaults. Run "
                "`dbt build` to sync with the settings the build resolved.",
                SUMMARY,
            )
        in_mart = self._reader.audience_names()
        retired = self._retire(in_mart) if self.options.retire else []
        vanished: list[tuple[str, str]] = []
        if self._ledger is not None:
            present = set(in_mart) | set(self.options.retire)
            for account in self._ledger.accounts():
                for record in self._ledger.synced_audiences(account):
                    if record.audience_name not in present:
                        vanished.append((record.audience_name, account))
        available = sorted(set(in_mart) | {name for name, _ in vanished})
        if audience_names:
            unknown = [n for n in audience_names if n not in available]
            if unknown:
                raise WarehouseError(
                    "Not in the mart: "
                    + ", ".join(repr(n) for n in unknown)
                    + (
                        ". Audiences built: " + ", ".join(repr(n) for n in available) + "."
                        if available
                        else ". The mart is empty: check the members input and run `dbt build`."
                    )
                )
            wanted = set(audience_names)
        else:
            wanted = set(available)
        work: list[tuple[str, str | None]] = [(n, None) for n in in_mart if n in wanted]
        work += [(n, account) for n, account in vanished if n in wanted]
        work.sort(key=lambda item: (item[0], item[1] or ""))
        if not work:
            if retired:
                return retired
            raise WarehouseError(
                "The mart holds no audience: check the members input and run `dbt build`."
            )
        with tempfile.TemporaryDirectory(prefix="spotify-audiences-") as scratch:
            return retired + [
                self.sync_one(name, Path(scratch), built=built, synced_to=account)
                for name, account in work
            ]

    def _retire(self, in_mart: Sequence[str]) -> list[AudienceResult]:
        """Record ``--retire`` names as retired in every ad account they were synced to.

        Refuses (before recording anything) a name still built in the mart, or one the
        ledger does not know. A dry run says what it would record and records nothing.
        """
        still = [n for n in self.options.retire if n in set(in_mart)]
        if still:
            raise ConfigError(
                "Still built in the mart, so not retired: "
                + ", ".join(repr(n) for n in still)
                + ". Remove it from the members input (or spotify_audiences_config) and run "
                "`dbt build` first."
            )
        found: list[tuple[str, str, SyncRecord]] = []
        ledger = self._ledger
        accounts = ledger.accounts() if ledger is not None else []
        for name in dict.fromkeys(self.options.retire):
            hits = [
                (name, account, last)
                for account in accounts
                if ledger is not None and (last := ledger.last_success(account, name))
            ]
            if not hits:
                raise ConfigError(
                    f"Nothing to retire: the ledger has no active audience named {name!r} "
                    "(never synced, or already retired)."
                )
            found += hits
        results = []
        for name, account, last in found:
            result = AudienceResult(
                audience_name=name,
                action=RETIRED,
                audience_id=last.audience_id,
                ad_account_id=account,
                note=RETIRE_NOTE,
            )
            if self.options.dry_run_dir is None and ledger is not None:
                now = _now()
                ledger.record(
                    SyncRecord(
                        run_id=self.run_id,
                        started_at=now,
                        finished_at=now,
                        audience_name=name,
                        ad_account_id=account,
                        action=RETIRED,
                        audience_id=last.audience_id,
                        ignored_test_failures=self.ignored_test_failures,
                    )
                )
            log.info("%s: retired (audience %s); %s", name, last.audience_id, RETIRE_NOTE)
            results.append(result)
        return results

    def audience_settings(
        self,
        name: str,
        built: Mapping[str, Mapping[str, Any]] | None,
        synced_to: str | None = None,
    ) -> AudienceConfig:
        """One audience's settings: the summary's columns (else the var), then the overrides.

        ``synced_to``: the audience vanished from the mart; it goes to the account it was
        synced to, with the default thresholds.
        """
        if synced_to is not None:
            config = replace(self.options.config.for_audience(name), ad_account_id=synced_to)
        elif built is not None:
            config = audience_config(
                {k: v for k, v in (built.get(name) or {}).items() if k in SETTINGS_COLUMNS},
                AudienceConfig(),
                f"{SUMMARY} (audience {name!r})",
            )
        else:
            config = self.options.config.for_audience(name)
        overrides: dict[str, Any] = {}
        if self.options.audience_ids.get(name):
            overrides["audience_id"] = self.options.audience_ids[name]
        if self.options.min_identifiers is not None:
            overrides["min_identifiers"] = self.options.min_identifiers
        if self.options.description:
            overrides["description"] = self.options.description
        config = replace(config, **overrides) if overrides else config
        check_description(config.description, f"The description of {name!r}")
        return config

    def _account(self, name: str, config: AudienceConfig) -> str | None:
        """The audience's ad account, else the sync's default; None only for a dry run."""
        account = self._resolve_account(name, config)
        allowed = self.options.allowed_ad_accounts
        if account is not None and allowed is not None and account not in allowed:
            raise ConfigError(
                f"{name!r} names the ad account {account}, which this procedure may not sync "
                f"to (allowed: {', '.join(allowed) or 'none'}). An admin adds it with "
                "`spotify-audiences snowflake-setup --part owner --allow-ad-account ID`."
            )
        return account

    def _resolve_account(self, name: str, config: AudienceConfig) -> str | None:
        if config.ad_account_id:
            return config.ad_account_id.strip().lower()
        if self._settings.ad_account_id:
            return self._settings.account_id
        if self.options.dry_run_dir is not None:
            return None
        raise ConfigError(
            f"No ad account for {name!r}: set ad_account_id for it in the dbt var "
            f"{CONFIG_VAR} (audiences: {name!r}: ad_account_id: <uuid>) and run `dbt build`, "
            f"or set {ENV_AD_ACCOUNT_ID} for the audiences that name none."
        )

    def sync_one(
        self,
        name: str,
        scratch: Path,
        *,
        built: Mapping[str, Mapping[str, Any]] | None = None,
        synced_to: str | None = None,
    ) -> AudienceResult:
        """Sync one audience; never raises for a failure of that audience, reports it."""
        result = AudienceResult(audience_name=name, action=FAILED, ad_account_id=synced_to)
        started = _now()
        try:
            config = self.audience_settings(name, built, synced_to)
            result.ad_account_id = self._account(name, config)
            self._sync(name, scratch, result, config)
        except SpotifyAudiencesError as exc:
            result.action = REFUSED if isinstance(exc, RefusedError) else FAILED
            result.error = str(exc)
            result.error_class = type(exc).__name__
            result.exit_code = exc.exit_code
            if isinstance(exc, SpotifyApiError):
                result.sp_trace_id = exc.sp_trace_id
            log.warning("%s: %s", name, exc)
        # A dry run writes nothing to the ledger, not even its failures.
        if self._ledger is not None and self.options.dry_run_dir is None:
            self._record(result, started)
        return result

    def _row(self, result: AudienceResult, started: datetime, action: str) -> SyncRecord:
        return SyncRecord(
            run_id=self.run_id,
            started_at=started,
            finished_at=_now(),
            audience_name=result.audience_name,
            ad_account_id=result.ad_account_id,
            action=action,
            audience_id=result.audience_id,
            counts=result.counts,
            rejected=result.rejected,
            identifiers=result.identifiers,
            bytes=result.bytes,
            fingerprint=result.sha256,
            upload_id=result.upload_id,
            error_class=result.error_class,
            error_message=result.error,
            sp_trace_id=result.sp_trace_id,
            ignored_test_failures=self.ignored_test_failures,
            suppressed=result.suppressed,
        )

    def _record(self, result: AudienceResult, started: datetime) -> None:
        assert self._ledger is not None
        try:
            self._ledger.record(self._row(result, started, result.action))
        except Exception as exc:  # the sync's outcome stands; say the ledger missed it
            log.error("%s: writing the sync log failed: %s", result.audience_name, exc)

    def _record_intent(self, result: AudienceResult, started: datetime) -> None:
        """The pending row, before anything is sent: without it, nothing is sent."""
        if self._ledger is None:
            return
        try:
            self._ledger.record(self._row(result, started, PENDING))
        except Exception as exc:
            raise WarehouseError(
                f"Recording the sync's intent in the ledger failed ({exc}); nothing was sent."
            ) from None

    def _sync(
        self, name: str, scratch: Path, result: AudienceResult, config: AudienceConfig
    ) -> None:
        validate_audience_name(name)
        account = result.ad_account_id
        started = _now()
        result.rejected = self._reader.rejects(name)
        suppressed = getattr(self._reader, "suppressed", None)
        result.suppressed = suppressed(name) if suppressed is not None else {}
        result.layout = self.options.layout
        directory = self.options.dry_run_dir or scratch
        progress = Progress(f"export {name}", unit="rows") if self.options.progress else None
        path = directory / audience_file_name(name)
        # A reader that can write the long file itself does (DuckDB's COPY, the same bytes).
        export_long = getattr(self._reader, "export_long", None)
        try:
            if self.options.layout == "long" and export_long is not None:
                export = export_long(name, path, progress=progress)
            else:
                export = write_audience_csv(
                    self._reader.identifier_batches(name),
                    path,
                    progress=progress,
                    layout=self.options.layout,
                )
        except OSError as exc:
            raise OutputError(
                f"Cannot write the file of {name!r} to {path}: {exc.strerror or exc}. "
                "Nothing was sent."
            ) from None
        result.counts, result.bytes, result.sha256 = export.counts, export.bytes, export.sha256
        last = self._ledger.last_success(account, name) if self._ledger else None
        attempt = self._ledger.last_attempt(account, name) if self._ledger else None
        interrupted = attempt is not None and attempt.action == PENDING
        if self.options.dry_run_dir is not None:
            result.action = DRY_RUN
            result.file = str(export.path)
            if interrupted:
                result.note = (
                    "the last sync of this audience was interrupted; Spotify holds either its "
                    "set or the one before, so no diff is shown and the next sync uploads"
                )
            elif self._ledger is not None:
                diff = self._ledger.diff(account, name)
                if diff is not None:
                    result.added, result.removed = diff
        self._check_guards(name, export, config, last)
        if self.options.dry_run_dir is not None:
            return
        assert self._client is not None and self._uploader is not None and account is not None
        audience_id = self._existing_audience_id(account, name, config, last, result)
        if (
            last is not None
            and attempt is not None
            and attempt.action in SUCCESS_ACTIONS
            and not self.options.force
            and attempt.fingerprint == export.sha256
            and attempt.audience_id == audience_id
        ):
            result.action, result.audience_id = UNCHANGED, audience_id
            log.info("%s: same set as the last upload; nothing sent (--force uploads)", name)
            return
        if interrupted:
            log.warning(
                "%s: the last sync was interrupted after it recorded its intent; Spotify may "
                "hold either set, so this sync uploads.",
                name,
            )
        result.audience_id = audience_id
        self._record_intent(result, started)
        if audience_id is not None:
            target = self._client.replace_upload_url(account, audience_id)
            result.upload_id = target.id
            self._uploader.upload(target.upload_url, export.path)
            result.action, result.audience_id = REPLACED, audience_id
            log.info("%s: replaced the list of audience %s", name, audience_id)
            self._remember(account, name, export)
            result.status = self._status(account, audience_id)
            return
        target = self._client.create_upload_url(account)
        result.upload_id = target.id
        self._uploader.upload(target.upload_url, export.path)
        created = self._create(account, name, target.id, config)
        result.action, result.audience_id = CREATED, str(created.get("id") or target.id)
        result.status = created.get("status")
        log.info("%s: created audience %s", name, result.audience_id)
        self._remember(account, name, export)

    def _remember(self, account: str, name: str, export: ExportResult) -> None:
        if self._ledger is None:
            return
        try:
            self._ledger.store_uploaded(account, name, export.path)
        except Exception as exc:  # the upload happened; only the next diff is affected
            log.error("%s: remembering the uploaded set failed: %s", name, exc)

    def _status(self, account: str, audience_id: str) -> str | None:
        """The audience's status after a replacement; the sync has succeeded either way."""
        assert self._client is not None
        try:
            return self._client.get_audience(account, audience_id).get("status")
        except SpotifyAudiencesError as exc:
            log.info("the list was replaced; reading its status failed: %s", exc)
            return None

    def _check_guards(
        self, name: str, export: ExportResult, config: AudienceConfig, last: SyncRecord | None
    ) -> None:
        """Refuse, before any network call, a file that would damage a live audience."""
        minimum = config.min_identifiers
        count = export.identifiers
        if count == 0:
            raise RefusedError(
                f"Guard empty: {name!r} has no hashed identifiers now"
                + (f" (the last sync uploaded {last.identifiers:,})" if last else "")
                + "; an empty upload would wipe the audience. Nothing was sent.",
                hint="Check the members input and the rejects model.",
            )
        if count < minimum:
            raise RefusedError(
                f"Guard min_identifiers: {name!r} has {count} hashed identifiers; the minimum "
                f"is {minimum} (Spotify needs at least 1,000 per upload). Nothing was sent.",
                hint="Check the members input and the rejects model.",
            )
        if export.bytes > self.options.max_file_bytes:
            raise RefusedError(
                f"{name!r} makes a {export.bytes:,}-byte file; Spotify accepts at most "
                f"{self.options.max_file_bytes:,} bytes per upload. Nothing was sent.",
                hint="Split the audience into smaller segments.",
            )
        submitted, rejected = self._reader.submitted_and_rejected(name)
        share = rejected / submitted if submitted else 0.0
        if share > config.max_rejected_share and not self.options.force:
            raise RefusedError(
                f"Guard max_rejected_share: {rejected:,} of {submitted:,} identifier values "
                f"({share:.0%}) of {name!r} were rejected, above the "
                f"{config.max_rejected_share:.0%} limit; the input looks broken. Nothing was sent.",
                hint="See spotify_audience_rejects for the reasons; --force uploads anyway.",
            )
        if last is not None and last.identifiers:
            shrink = 1 - count / last.identifiers
            allowed = self.options.allow_shrink or self.options.force
            if shrink > config.max_shrink and not allowed:
                raise RefusedError(
                    f"Guard max_shrink: {name!r} would shrink from {last.identifiers:,} to "
                    f"{count:,} identifiers ({shrink:.0%}, above the {config.max_shrink:.0%} "
                    "limit) against the last successful sync. Nothing was sent.",
                    hint="If the smaller audience is right, run again with --allow-shrink.",
                )

    def _existing_audience_id(
        self,
        account: str,
        name: str,
        config: AudienceConfig,
        last: SyncRecord | None,
        result: AudienceResult,
    ) -> str | None:
        """The audience to replace: configured, else the ledger's, else by name, else None.

        The id the ledger recorded for this name and ad account wins over a name lookup, so
        that another audience of the same name (another warehouse's, a copy made in Ads
        Manager) never makes this sync stop or create a third one; it is reported instead.
        """
        configured = config.audience_id
        if configured:
            return configured.strip().lower()
        assert self._client is not None
        if last is not None and last.audience_id:
            known = last.audience_id
            try:
                self._client.get_audience(account, known)
            except NotFoundError:
                log.warning(
                    "%s: audience %s, recorded in the ledger, no longer exists in Spotify; "
                    "looking the audience up by name",
                    name,
                    known,
                )
            else:
                others = [
                    str(a.get("id"))
                    for a in self._client.find_audiences_named(account, name)
                    if str(a.get("id")).lower() != known.lower()
                ]
                if others:
                    result.duplicates = others
                    log.warning(
                        "%s: %d other audience(s) in the ad account have this name (%s); this "
                        "sync replaces %s, the one the ledger recorded, and leaves them as they "
                        "are (rename or delete them in Ads Manager)",
                        name,
                        len(others),
                        ", ".join(others),
                        known,
                    )
                return known
        matches = self._client.find_audiences_named(account, name)
        if len(matches) > 1:
            ids = ", ".join(str(a.get("id")) for a in matches)
            raise AmbiguousAudienceError(
                f"{len(matches)} audiences in the ad account are named {name!r} ({ids}).",
                hint="Say which one to replace with --audience-id "
                f"{name!r}=<id>, or rename the others in Ads Manager.",
            )
        return str(matches[0]["id"]) if matches else None

    def _create(
        self, account: str, name: str, upload_id: str, config: AudienceConfig
    ) -> dict[str, Any]:
        """Create the audience; after an unclear outcome, look before trying again."""
        assert self._client is not None
        description = config.description
        try:
            return self._client.create_audience(
                account, name=name, upload_id=upload_id, description=description
            )
        except NetworkError as exc:
            log.info("%s: the create call's outcome is unknown (%s); looking it up", name, exc)
        found = self._find_created(account, name, upload_id)
        if found is not None:
            log.info("%s: the audience was created after all", name)
            return found
        return self._client.create_audience(
            account, name=name, upload_id=upload_id, description=description
        )

    def _find_created(self, account: str, name: str, upload_id: str) -> dict[str, Any] | None:
        assert self._client is not None
        try:
            return self._client.get_audience(account, upload_id)
        except NotFoundError:
            pass
        matches = self._client.find_audiences_named(account, name)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise AmbiguousAudienceError(
                f"{len(matches)} audiences are named {name!r} after an interrupted create.",
                hint="Delete the extra one in Ads Manager and run the sync again.",
            )
        return None


@dataclass
class SpotifyConnection:
    """The client pieces for one sync, sharing one transport and one deadline."""

    transport: Transport
    client: AdsClient
    uploader: ResumableUploader

    def close(self) -> None:
        """Close pooled connections."""
        self.transport.close()


def connect(
    settings: SpotifySettings,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    deadline_seconds: float | None = None,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
    sink: RefreshTokenSink | None = None,
    tokens: TokenProvider | None = None,
    show_progress: bool = False,
) -> SpotifyConnection:
    """Build the Ads API client and the uploader from validated settings.

    Without ``tokens``, access tokens come from the settings' refresh token (our own refresh);
    a procedure inside Snowflake passes a provider backed by Snowflake's OAuth secret instead.
    """
    settings.validated(require_credentials=tokens is None, require_account=False)
    clock = clock or SystemClock.from_env()
    transport = Transport(
        timeout=timeout, retry=retry, clock=clock, deadline=Deadline(deadline_seconds, clock)
    )
    if tokens is None:
        assert settings.client_id is not None and settings.refresh_token is not None
        tokens = AccessTokens(
            transport,
            accounts_url=settings.accounts_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            refresh_token=settings.refresh_token,
            sink=sink,
        )
    return SpotifyConnection(
        transport=transport,
        client=AdsClient(transport, tokens, base_url=settings.ads_api_url),
        uploader=ResumableUploader(transport, chunk_size=chunk_size, show_progress=show_progress),
    )
