"""``spotify-ads-sandbox`` (or ``python -m spotify_ads_sandbox``): serve until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import sys

from .config import DEFAULT_PORT, SandboxConfig
from .server import Sandbox, export_lines, serve_forever


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, serve, and return the exit status."""
    parser = argparse.ArgumentParser(
        prog="spotify-ads-sandbox",
        description="Serve a local Spotify Ads API sandbox (Accounts, Ads API v3 audiences, "
        "GCS resumable uploads) and print the environment that points a client at it.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port to bind; 0 picks a free one"
    )
    parser.add_argument(
        "--processing-seconds",
        type=float,
        default=0.0,
        help="how long a new or replaced list stays PROCESSING before it is BOOKABLE",
    )
    parser.add_argument(
        "--min-identifiers",
        type=int,
        default=1000,
        help="fewest identifiers a list file may hold",
    )
    parser.add_argument(
        "--rotate-refresh-token",
        action="store_true",
        help="issue a new refresh token on every refresh (default: omit it, as Spotify often does)",
    )
    parser.add_argument(
        "--env-file",
        help="also write the export lines to this file (mode 0600) once listening",
    )
    args = parser.parse_args(argv)
    config = SandboxConfig(
        processing_seconds=args.processing_seconds,
        min_identifiers=args.min_identifiers,
        rotate_refresh_token=args.rotate_refresh_token,
    )

    def on_ready(sandbox: Sandbox) -> None:
        lines = export_lines(sandbox)
        if args.env_file:
            fd = os.open(args.env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write("\n".join(lines) + "\n")
        print("\n".join(lines), flush=True)
        print(
            f"Spotify Ads sandbox listening on {sandbox.url} (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )

    try:
        serve_forever(args.host, args.port, config, on_ready)
    except ValueError as error:
        parser.error(str(error))
    except OSError as error:
        print(f"cannot serve on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    print("Spotify Ads sandbox stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
