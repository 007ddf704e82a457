"""The ``spotify-audiences`` command: a thin shell around :mod:`spotify_audiences.sync`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from spotify_audiences import __version__, logs
from spotify_audiences.config import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_FILE_BYTES,
    MIN_IDENTIFIERS,
    SpotifySettings,
)
from spotify_audiences.errors import EXIT_FAILED, EXIT_OK, SpotifyAudiencesError
from spotify_audiences.sync import AudienceResult, MirrorSync, SyncOptions, connect
from spotify_audiences.warehouse import open_mart_reader


def _fail(exc: SpotifyAudiencesError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(exc.exit_code)


def _parse_audience_ids(pairs: Sequence[str]) -> dict[str, str]:
    ids = {}
    for pair in pairs:
        name, sep, audience_id = pair.rpartition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=AUDIENCE_ID, got {pair!r}")
        ids[name] = audience_id
    return ids


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spotify-audiences")
@click.option("-v", "--verbose", count=True, help="Debug logging (never shows secrets).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
def main(verbose: int, quiet: bool) -> None:
    """Mirror audiences built by dbt into Spotify Ads Manager custom audiences."""
    logs.configure(verbose, quiet=quiet)


@main.command()
@click.option(
    "--project-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The dbt project.",
)
@click.option(
    "--profiles-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where profiles.yml is (default: DBT_PROFILES_DIR, the project, then ~/.dbt).",
)
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
    default=MIN_IDENTIFIERS,
    show_default=True,
    help="Refuse audiences with fewer hashed identifiers.",
)
@click.option(
    "--max-bytes",
    type=int,
    default=MAX_FILE_BYTES,
    show_default=True,
    help="Refuse files larger than this.",
)
@click.option(
    "--chunk-size",
    type=int,
    default=DEFAULT_CHUNK_SIZE,
    show_default=True,
    help="Upload chunk in bytes (a multiple of 256 KiB).",
)
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT_SECONDS,
    show_default=True,
    help="Seconds per HTTP request.",
)
@click.option("--deadline", type=float, help="Seconds for the whole sync, waits included.")
@click.option("--description", help="Description for audiences this sync creates (≤ 80 chars).")
def sync(
    project_dir: Path,
    profiles_dir: Path | None,
    target: str | None,
    audiences: tuple[str, ...],
    audience_ids: tuple[str, ...],
    dry_run_dir: Path | None,
    as_json: bool,
    min_identifiers: int,
    max_bytes: int,
    chunk_size: int,
    timeout: float,
    deadline: float | None,
    description: str | None,
) -> None:
    """Sync each audience of the mart (or only --audience ones) to Spotify.

    Every sync replaces the whole list of the Spotify audience (mirror). The audience is found
    by --audience-id, else by its exact name in the ad account, else created. Exit status 0
    only when every audience synced.
    """
    try:
        options = SyncOptions(
            min_identifiers=min_identifiers,
            max_file_bytes=max_bytes,
            audience_ids=_parse_audience_ids(audience_ids),
            dry_run_dir=dry_run_dir,
            description=description,
        )
        settings = SpotifySettings.from_env()
        connection = None
        if dry_run_dir is None:
            settings.validated(require_credentials=True)
            connection = connect(
                settings, timeout=timeout, chunk_size=chunk_size, deadline_seconds=deadline
            )
        reader = open_mart_reader(project_dir, profiles_dir, target)
        try:
            runner = MirrorSync(
                reader,
                settings=settings,
                client=connection.client if connection else None,
                uploader=connection.uploader if connection else None,
                options=options,
            )
            results = runner.run(list(audiences) or None)
        finally:
            reader.close()
            if connection:
                connection.close()
    except SpotifyAudiencesError as exc:
        _fail(exc)
        return
    for result in results:
        if as_json:
            click.echo(json.dumps(result.to_json(), sort_keys=True))
        else:
            click.echo(format_result(result))
    failed = [r for r in results if not r.ok]
    if failed:
        sys.exit(failed[0].exit_code or EXIT_FAILED)
    sys.exit(EXIT_OK)


def format_result(result: AudienceResult) -> str:
    """A readable block for one audience."""
    lines = [result.audience_name]
    labels = {
        "created": "created",
        "replaced": "replaced",
        "dry_run": "dry run, nothing sent",
        "failed": "FAILED",
        "refused": "REFUSED",
    }
    audience = result.audience_id or "-"
    lines.append(f"  action       {labels.get(result.action, result.action)}")
    lines.append(f"  audience id  {audience}")
    uploaded = ", ".join(f"{t} {n:,}" for t, n in result.counts.items()) or "none"
    verb = "uploaded" if result.action in ("created", "replaced") else "in file"
    lines.append(f"  {verb:<12} {result.identifiers:,} ({uploaded})")
    rejected = ", ".join(f"{k} {n:,}" for k, n in result.rejected.items()) or "none"
    lines.append(f"  rejected     {sum(result.rejected.values()):,} ({rejected})")
    if result.sha256:
        lines.append(f"  file         {result.bytes:,} bytes, sha256 {result.sha256}")
    if result.file:
        lines.append(f"  written to   {result.file}")
    if result.error:
        lines.append(f"  error        {result.error}")
    return "\n".join(lines)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address only.")
@click.option("--port", type=int, default=8787, show_default=True, help="0 picks a free port.")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the export lines to this file (mode 0600) once listening.",
)
def sandbox(host: str, port: int, env_file: Path | None) -> None:
    """Run the local Spotify Ads sandbox in the foreground.

    Prints the environment variables that point `spotify-audiences sync` at it. The sandbox
    implements the Accounts token endpoint, the audience endpoints and the storage upload.
    """
    from spotify_ads_sandbox import serve_forever

    def ready(server: object) -> None:
        lines = [f"export {k}={v}" for k, v in server.env().items()]  # type: ignore[attr-defined]
        if env_file is not None:
            fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write("\n".join(lines) + "\n")
        click.echo(f"# Spotify Ads sandbox listening on {server.url}")  # type: ignore[attr-defined]
        click.echo("# Point the sync at it with:")
        for line in lines:
            click.echo(line)
        sys.stdout.flush()

    serve_forever(host, port, on_ready=ready)
