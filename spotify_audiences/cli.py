"""The ``spotify-audiences`` command: a thin shell around the core, :mod:`.in_warehouse`."""

from __future__ import annotations

import json
import math
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from spotify_audiences import __version__, logs
from spotify_audiences.config import (
    CHUNK_GRANULARITY,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_FILE_BYTES,
    MIN_IDENTIFIERS,
    SpotifySettings,
    check_endpoint,
)
from spotify_audiences.credentials import ENV_TOKEN_FILE, TokenStore
from spotify_audiences.errors import EXIT_FAILED, EXIT_OK, ConfigError, SpotifyAudiencesError
from spotify_audiences.export import LAYOUTS
from spotify_audiences.in_warehouse import SyncRequest, run_sync
from spotify_audiences.login import DEFAULT_PORT
from spotify_audiences.logs import escape_control
from spotify_audiences.sync import DESCRIPTION_MAX, AudienceResult, SyncOptions
from spotify_audiences.warehouse import open_mart_reader

EXIT_INTERRUPTED = 130


def _fail(exc: SpotifyAudiencesError) -> None:
    click.echo(f"error: {escape_control(str(exc))}", err=True)
    sys.exit(exc.exit_code)


def _seconds(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"must be a positive number of seconds, got {value}.")
    return value


def _chunk_size(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value <= 0 or value % CHUNK_GRANULARITY:
        raise click.BadParameter(
            f"must be a positive multiple of 256 KiB ({CHUNK_GRANULARITY} bytes), got {value}."
        )
    return value


def _description(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and len(value) > DESCRIPTION_MAX:
        raise click.BadParameter(
            f"has {len(value)} characters; Spotify accepts at most {DESCRIPTION_MAX}."
        )
    return value


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM takes the path of Ctrl-C: temporary files removed, connections closed."""

    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _parse_audience_ids(pairs: Sequence[str]) -> dict[str, str]:
    ids = {}
    for pair in pairs:
        name, sep, audience_id = pair.rpartition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=AUDIENCE_ID, got {pair!r}")
        ids[name] = audience_id
    return ids


_token_file_option = click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=ENV_TOKEN_FILE,
    help="Where `login` keeps the refresh token "
    "(default: $XDG_CONFIG_HOME/spotify-audiences/token.json).",
)


def _project_options(command: Callable[..., None]) -> Callable[..., None]:
    """``--project-dir`` and ``--profiles-dir``, as dbt names them."""
    command = click.option(
        "--profiles-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where profiles.yml is (default: DBT_PROFILES_DIR, the current directory, the "
        "project, then ~/.dbt).",
    )(command)
    return click.option(
        "--project-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help="The dbt project.",
    )(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spotify-audiences")
@click.option("-v", "--verbose", count=True, help="Debug logging (never shows secrets).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
def main(verbose: int, quiet: bool) -> None:
    """Mirror audiences built by dbt into Spotify Ads Manager custom audiences."""
    logs.configure(verbose, quiet=quiet)


@main.command()
@_project_options
@click.option("--target", "-t", help="dbt target to read the marts from (default: the profile's).")
@click.option("--audience", "-a", "audiences", multiple=True, help="Sync only this audience.")
@click.option(
    "--audience-id",
    "audience_ids",
    multiple=True,
    metavar="NAME=ID",
    help="Replace this Spotify audience for NAME instead of looking it up by name.",
)
@click.option(
    "--dry-run",
    "dry_run_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write the exact files that would be uploaded into DIR; no network call.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per audience per line.")
@click.option(
    "--min-identifiers",
    type=int,
    help="Refuse audiences with fewer hashed identifiers (default: each audience's "
    f"min_identifiers as the build recorded it, else {MIN_IDENTIFIERS:,}).",
)
@click.option("--force", is_flag=True, help="Upload even when unchanged, or past any guard.")
@click.option("--allow-shrink", is_flag=True, help="Accept a shrink past the max_shrink guard.")
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=MAX_FILE_BYTES,
    show_default=True,
    help="Refuse files larger than this.",
)
@click.option(
    "--chunk-size",
    type=int,
    default=DEFAULT_CHUNK_SIZE,
    show_default=True,
    callback=_chunk_size,
    help="Upload chunk in bytes (a multiple of 256 KiB).",
)
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT_SECONDS,
    show_default=True,
    callback=_seconds,
    help="Seconds per HTTP request.",
)
@click.option(
    "--deadline",
    type=float,
    callback=_seconds,
    help="Seconds for the whole sync, waits included.",
)
@click.option(
    "--description",
    callback=_description,
    help="Description for audiences this sync creates (≤ 80 chars).",
)
@click.option(
    "--layout",
    type=click.Choice(LAYOUTS),
    default="long",
    show_default=True,
    help="Upload file layout: long (type,value rows) or wide (one column per identifier type).",
)
@click.option(
    "--retire",
    multiple=True,
    metavar="NAME",
    help="Stop syncing NAME (gone from the mart): recorded as retired in the ledger; the "
    "Spotify audience is left as it is.",
)
@click.option(
    "--ignore-test-failures",
    is_flag=True,
    help="Sync although the last dbt build had failing tests (the ledger records it).",
)
@_token_file_option
def sync(
    project_dir: Path,
    profiles_dir: Path | None,
    target: str | None,
    audiences: tuple[str, ...],
    audience_ids: tuple[str, ...],
    dry_run_dir: Path | None,
    as_json: bool,
    min_identifiers: int | None,
    force: bool,
    allow_shrink: bool,
    max_bytes: int,
    chunk_size: int,
    timeout: float,
    deadline: float | None,
    description: str | None,
    layout: str,
    retire: tuple[str, ...],
    ignore_test_failures: bool,
    token_file: Path | None,
) -> None:
    """Sync each audience of the mart (or only --audience ones) to Spotify.

    Every sync replaces the whole list of the Spotify audience (mirror). The audience is found
    by --audience-id, else by its exact name in its ad account, else created. Each audience
    goes to the ad account the build recorded for it, else SPOTIFY_AD_ACCOUNT_ID. Nothing is
    synced when the last dbt build's tests failed (unless --ignore-test-failures). Exit status
    0 only when every audience synced. Interrupted (Ctrl-C, SIGTERM): exit 130, temporary
    files removed; the next sync uploads again.
    """
    show_progress = not as_json and not click.get_current_context().find_root().params["quiet"]
    try:
        request = SyncRequest(
            audiences=list(audiences) or None,
            options=SyncOptions(
                min_identifiers=min_identifiers,
                max_file_bytes=max_bytes,
                audience_ids=_parse_audience_ids(audience_ids),
                dry_run_dir=dry_run_dir,
                description=description,
                config_project_dir=project_dir,
                force=force,
                allow_shrink=allow_shrink,
                progress=show_progress,
                layout=layout,
                retire=retire,
            ),
            dry_run=dry_run_dir is not None,
            raise_on_failure=False,
            chunk_size=chunk_size,
            timeout=timeout,
            deadline=deadline,
            ignore_test_failures=ignore_test_failures,
            progress=show_progress,
        )
        with _terminate_as_interrupt():
            results = run_sync(
                lambda: open_mart_reader(
                    project_dir, profiles_dir, target, read_only=dry_run_dir is not None
                ),
                SpotifySettings.from_env(),
                request,
                token_store=TokenStore(token_file),
            )
    except SpotifyAudiencesError as exc:
        _fail(exc)
        return
    except KeyboardInterrupt:
        click.echo(
            "interrupted: the sync stopped; temporary files were removed. An audience whose "
            "upload had started is uploaded again by the next sync.",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    for result in results:
        if as_json:
            click.echo(json.dumps(result, sort_keys=True))
        else:
            click.echo(format_result(AudienceResult(**result)))
    failed = [r for r in results if r["error"]]
    if failed:
        sys.exit(failed[0]["exit_code"] or EXIT_FAILED)
    sys.exit(EXIT_OK)


def format_result(result: AudienceResult) -> str:
    """A readable block for one audience."""
    lines = [escape_control(result.audience_name)]
    labels = {
        "created": "created",
        "replaced": "replaced",
        "unchanged": "unchanged since the last upload, nothing sent",
        "dry_run": "dry run, nothing sent",
        "failed": "FAILED",
        "refused": "REFUSED",
        "retired": "retired, no longer synced",
    }
    audience = result.audience_id or "-"
    lines.append(f"  action       {labels.get(result.action, result.action)}")
    lines.append(f"  audience id  {audience}")
    if result.ad_account_id:
        lines.append(f"  ad account   {result.ad_account_id}")
    if result.action == "retired":
        if result.note:
            lines.append(f"  note         {result.note}")
        return "\n".join(lines)
    uploaded = ", ".join(f"{t} {n:,}" for t, n in result.counts.items()) or "none"
    verb = "uploaded" if result.action in ("created", "replaced") else "in file"
    lines.append(f"  {verb:<12} {result.identifiers:,} ({uploaded})")
    lines.append(f"  rejected     {sum(result.rejected.values()):,}")
    if result.suppressed:
        opted_out = ", ".join(f"{t} {n:,}" for t, n in result.suppressed.items())
        lines.append(f"  suppressed   {sum(result.suppressed.values()):,} ({opted_out})")
    by_type: dict[str, list[str]] = {}
    for key, count in result.rejected.items():
        identifier_type, _, reason = key.partition("/")
        by_type.setdefault(identifier_type, []).append(f"{reason} {count:,}")
    for identifier_type, reasons in by_type.items():
        lines.append(f"    {identifier_type:<20} {', '.join(reasons)}")
    if result.sha256:
        layout = f", {result.layout} layout" if result.layout else ""
        lines.append(f"  file         {result.bytes:,} bytes{layout}, sha256 {result.sha256}")
    if result.file:
        lines.append(f"  written to   {result.file}")
    if result.added is not None:
        lines.append(f"  vs last sync +{result.added:,} added, -{result.removed:,} removed hashes")
    if result.status:
        note = ""
        if result.status == "PROCESSING":
            note = " (Spotify is matching the list; it can take up to three days to be BOOKABLE)"
        lines.append(f"  status       {result.status}{note}")
    if result.duplicates:
        lines.append(
            f"  also named   {', '.join(result.duplicates)} (left as they are; this sync uses "
            "the audience id the ledger recorded)"
        )
    if result.note:
        lines.append(f"  note         {result.note}")
    if result.error:
        lines.append(f"  error        {escape_control(result.error)}")
    return "\n".join(lines)


@main.command()
@click.option(
    "--port",
    type=int,
    default=DEFAULT_PORT,
    show_default=True,
    help="Loopback port of the redirect URI http://127.0.0.1:PORT/callback (0: any free port).",
)
@click.option("--pkce", is_flag=True, help="Use PKCE (S256); implied without a client secret.")
@click.option(
    "--print",
    "print_token",
    is_flag=True,
    help="Print the refresh token once (for an env var or a Snowflake secret); do not save it.",
)
@click.option("--no-browser", is_flag=True, help="Only print the URL; do not open a browser.")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait.")
@_token_file_option
def login(
    port: int,
    pkce: bool,
    print_token: bool,
    no_browser: bool,
    timeout: float,
    token_file: Path | None,
) -> None:
    """Authorize this tool with your Spotify account and keep the refresh token.

    Needs SPOTIFY_CLIENT_ID (and SPOTIFY_CLIENT_SECRET unless --pkce). Register the printed
    redirect URI in your app on developer.spotify.com first.
    """
    from spotify_audiences import login as oauth
    from spotify_audiences.transport import Transport

    settings = SpotifySettings.from_env()
    try:
        if not settings.client_id:
            raise ConfigError("Set SPOTIFY_CLIENT_ID to your app's client id to log in.")
        if settings.client_secret is None and not pkce:
            raise ConfigError("Set SPOTIFY_CLIENT_SECRET, or use --pkce for an app without one.")
        check_endpoint(settings.accounts_url, what="SPOTIFY_ACCOUNTS_URL")
        with Transport(timeout=60) as transport:
            token = oauth.login(
                transport,
                accounts_url=settings.accounts_url,
                client_id=settings.client_id,
                client_secret=None if pkce else settings.client_secret,
                port=port,
                use_pkce=pkce,
                open_browser=not no_browser,
                timeout=timeout,
                show=lambda line: click.echo(line, err=print_token),
            )
    except SpotifyAudiencesError as exc:
        _fail(exc)
        return
    if print_token:
        click.echo(token.reveal())
        click.echo(
            "Store it as SPOTIFY_REFRESH_TOKEN or in a Snowflake secret; it is not saved here.",
            err=True,
        )
        return
    store = TokenStore(token_file)
    store.save(token)
    click.echo(f"Logged in. Refresh token saved to {store.path} (mode 0600).")


@main.command()
@_token_file_option
def logout(token_file: Path | None) -> None:
    """Delete the refresh token saved by `login`."""
    store = TokenStore(token_file)
    if store.delete():
        click.echo(f"Removed {store.path}.")
    else:
        click.echo(f"No saved token at {store.path}.")


@main.command()
@_project_options
@click.option("--target", "-t", help="dbt target whose ledger to read and write.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per audience per line.")
@_token_file_option
def status(
    project_dir: Path,
    profiles_dir: Path | None,
    target: str | None,
    as_json: bool,
    token_file: Path | None,
) -> None:
    """Fetch status and size of every synced audience into spotify_audience_status.

    Every ad account of the ledger, of the summary mart and SPOTIFY_AD_ACCOUNT_ID is checked.
    """
    try:
        rows = run_sync(
            lambda: open_mart_reader(project_dir, profiles_dir, target, read_only=False),
            SpotifySettings.from_env(),
            SyncRequest(status=True, raise_on_failure=False),
            token_store=TokenStore(token_file),
        )
    except SpotifyAudiencesError as exc:
        _fail(exc)
        return
    if not rows:
        click.echo("No audience has been synced yet.")
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, sort_keys=True))
            continue
        size = (
            f"{row['size_min']:,}-{row['size_max']:,}"
            if row.get("size_min") is not None and row.get("size_max") is not None
            else "-"
        )
        click.echo(
            f"{escape_control(row['audience_name']):<32} {row['audience_id']}  "
            f"{row.get('status') or 'ERROR':<10} size {size}"
        )
        if row.get("advice") or row.get("error"):
            click.echo(f"  {escape_control(str(row.get('advice') or row.get('error')))}")
    if any(row.get("error") for row in rows):
        sys.exit(EXIT_FAILED)


def _register_snowflake_commands() -> None:
    from spotify_audiences.doctor import doctor
    from spotify_audiences.snowflake.setup.commands import snowflake_setup

    main.add_command(snowflake_setup)
    main.add_command(doctor)


_register_snowflake_commands()
