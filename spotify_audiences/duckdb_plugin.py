"""The dbt-duckdb plugin: the phone UDF the models call and the in-process sync of the post-hook.

List it once under ``plugins:`` of a DuckDB target in ``profiles.yml``::

    plugins:
      - module: spotify_audiences.duckdb_plugin

It registers two functions on every connection dbt-duckdb opens (and, when dbt loads it, makes
dbt's log file ``logs/dbt.log`` readable by its owner only, see :func:`restrict_log_files`):

* ``normalize_phone(raw, region)``: E.164 through ``phonenumbers``, the handler that is staged to
  Snowflake as well (``python_udfs/phone_numbers.py``, installed as
  :mod:`spotify_audiences.udfs.phone_numbers`);
* ``spotify_audiences_sync(request)``: the post-hook macro ``spotify_audiences_sync()`` renders
  ``select spotify_audiences_sync('<request>')`` on DuckDB, and this function runs the same sync
  as the CLI inside the dbt process. It reads the marts and writes the sync ledger on a cursor of
  its own (the post-hook's own connection is busy running the query), with the Spotify settings
  from the ``SPOTIFY_*`` environment variables or the token saved by ``spotify-audiences login``.
  A new cursor sees committed data only, so the macro commits the model's transaction first.
  The test gate does not apply: dbt runs the post-hook only once every test upstream passed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import VARCHAR

from spotify_audiences.udfs.phone_numbers import normalize_phone

SYNC_FUNCTION = "spotify_audiences_sync"
LOG_FILE_MODE = 0o600


def _owner_only(path: str) -> None:
    # a rotated-away or foreign file: nothing of ours to protect
    with contextlib.suppress(OSError):
        os.chmod(path, LOG_FILE_MODE)


def restrict_log_files() -> list[str]:
    """Make dbt's log files mode 0600, now and whenever dbt rotates them; returns their paths.

    dbt creates ``logs/dbt.log`` with the process umask (usually 0644), and a warehouse error
    can quote data into it. The file handlers are dbt's own; each one gets its current file,
    the rotated copies next to it and every file it opens later set to owner-only.
    """
    from dbt_common.events.event_manager_client import get_event_manager

    paths = []
    for dbt_logger in getattr(get_event_manager(), "loggers", []):
        python_logger = getattr(dbt_logger, "_python_logger", None)
        for handler in getattr(python_logger, "handlers", []):
            if not isinstance(handler, logging.FileHandler):
                continue
            path = handler.baseFilename
            for existing in [path, *map(str, Path(path).parent.glob(Path(path).name + ".*"))]:
                _owner_only(existing)
            if not getattr(handler, "_spotify_audiences_owner_only", False):
                handler._open = _opening_owner_only(handler)  # type: ignore[method-assign]
                handler._spotify_audiences_owner_only = True  # type: ignore[attr-defined]
            paths.append(path)
    return paths


def _opening_owner_only(handler: logging.FileHandler) -> Any:
    open_stream = handler._open

    def _open() -> Any:
        stream = open_stream()
        _owner_only(handler.baseFilename)
        return stream

    return _open


def sync_on_connection(connection: DuckDBPyConnection, request: str) -> str:
    """Run the sync that ``request`` (JSON: audiences, schema, options) asks for; JSON out."""
    from spotify_audiences.config import SpotifySettings
    from spotify_audiences.in_warehouse import SyncRequest, run_sync
    from spotify_audiences.warehouse import DuckDBMartReader

    body = json.loads(request)
    sync_request = dataclasses.replace(
        SyncRequest.parse(body.get("audiences"), body.get("options")), test_gate=False
    )
    cursor = connection.cursor()
    try:
        results = run_sync(
            lambda: DuckDBMartReader(connection=cursor, schema=body.get("schema") or "main"),
            SpotifySettings.from_env(),
            sync_request,
        )
    finally:
        cursor.close()
    return json.dumps(results, sort_keys=True)


class Plugin(BasePlugin):
    """Registers ``normalize_phone`` and ``spotify_audiences_sync`` on each connection."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        """Restrict dbt's log files; dbt-duckdb calls this once, after dbt set up its logging."""
        restrict_log_files()

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        """Create the functions; dbt-duckdb calls this for every connection it opens."""
        conn.create_function(
            "normalize_phone",
            normalize_phone,
            [VARCHAR, VARCHAR],
            VARCHAR,
            null_handling="special",
            side_effects=False,
        )

        def spotify_audiences_sync(request: str) -> str:
            return sync_on_connection(conn, request)

        conn.create_function(
            SYNC_FUNCTION, spotify_audiences_sync, [VARCHAR], VARCHAR, side_effects=True
        )
