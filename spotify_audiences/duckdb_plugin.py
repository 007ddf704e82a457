"""The dbt-duckdb plugin: the phone UDF the models call and the in-process sync of the post-hook.

List it once under ``plugins:`` of a DuckDB target in ``profiles.yml``::

    plugins:
      - module: spotify_audiences.duckdb_plugin

It registers two functions on every connection dbt-duckdb opens:

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

import dataclasses
import json

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import VARCHAR

from spotify_audiences.udfs.phone_numbers import normalize_phone

SYNC_FUNCTION = "spotify_audiences_sync"


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
