"""Handlers of the Snowflake stored procedure ``spotify_audiences_sync``.

The procedure is created by ``spotify-audiences snowflake-setup`` with this package staged as a
zip (``IMPORTS``), ``HANDLER`` set to one of the two functions below (by where the credentials
live), Spotify reachable only through its external access integration, and the secrets bound
under the aliases of :mod:`~spotify_audiences.snowflake.credentials`::

    call spotify_audiences_sync();                                  -- every audience
    call spotify_audiences_sync(audiences => ['Lapsed Premium Listeners']);
    call spotify_audiences_sync(options => {'dry_run': true});      -- check, send nothing

In Snowflake the procedure's handler is a few lines that ``snowflake-setup`` writes into the
procedure itself: they call :func:`run` with the allow-list of mart schemas and ad accounts
fixed at setup (:class:`~spotify_audiences.snowflake.policy.ProcedurePolicy`).

It answers an ARRAY with one ``sync --json`` object per audience, and fails the call
when an audience did not sync (unless ``options => {'raise_on_failure': false}``). Each
attempt is recorded in the sync ledger beside the marts, as the CLI records it. Each audience
goes to the ad account its row of the summary mart names, else to ``ad_account_id``. As the
CLI, it refuses to sync when the last dbt build's tests failed (``spotify_audience_build_log``)
unless ``options => {'ignore_test_failures': true}``; the dbt post-hook passes
``{'test_gate': false}``, since dbt runs it only after every test upstream has passed.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from snowflake.snowpark import Session

from spotify_audiences.auth import LogRotationSink
from spotify_audiences.config import SpotifySettings
from spotify_audiences.in_warehouse import Credentials, SyncRequest, run_sync
from spotify_audiences.snowflake.credentials import generic_secrets, oauth_secret
from spotify_audiences.snowflake.policy import ProcedurePolicy, guard
from spotify_audiences.snowflake.reader import SnowparkMartReader

# The SQL arguments may be NULL. Snowpark reads these hints when the handler is registered
# from Python (local testing), and it understands typing.Optional but not ``X | None``.
OptionalNames = Optional[list[str]]  # noqa: UP045
OptionalText = Optional[str]  # noqa: UP045
OptionalObject = Optional[dict]  # noqa: UP045


def sync_with_oauth_secret(
    session: Session,
    audiences: OptionalNames = None,
    mart_schema: OptionalText = None,
    ad_account_id: OptionalText = None,
    options: OptionalObject = None,
) -> list[dict]:
    """Handler when an OAUTH2 secret is bound as ``spotify_oauth``."""
    return run(session, audiences, mart_schema, ad_account_id, options, oauth_secret())


def sync_with_generic_secrets(
    session: Session,
    audiences: OptionalNames = None,
    mart_schema: OptionalText = None,
    ad_account_id: OptionalText = None,
    options: OptionalObject = None,
) -> list[dict]:
    """Handler when client id, client secret and refresh token are generic-string secrets."""
    return run(session, audiences, mart_schema, ad_account_id, options, generic_secrets())


def run(
    session: Session,
    audiences: list[str] | None,
    mart_schema: str | None,
    ad_account_id: str | None,
    options: dict[str, Any] | None,
    credentials: Credentials,
    *,
    policy: ProcedurePolicy | None = None,
) -> list[dict[str, Any]]:
    """Read the marts with the procedure's session and sync them; see the module docstring.

    ``policy`` is the allow-list that `snowflake-setup` writes into the procedure's handler;
    the call is checked against it before anything is read (see
    :mod:`~spotify_audiences.snowflake.policy`).
    """
    mart_schema, ad_account_id = guard(session, policy, mart_schema, ad_account_id, options)
    request = SyncRequest.parse(audiences, options)
    if policy is not None:
        # the summary mart names each audience's account: those must be allowed too
        allowed = dataclasses.replace(request.options, allowed_ad_accounts=policy.ad_account_ids)
        request = dataclasses.replace(request, options=allowed)
    schema = mart_schema or f"{session.get_current_database()}.{session.get_current_schema()}"
    sink = LogRotationSink("the secret bound as spotify_refresh_token (ALTER SECRET)")
    return run_sync(
        lambda: SnowparkMartReader(session, schema),
        SpotifySettings(ad_account_id=ad_account_id),
        request,
        credentials=credentials,
        sink=sink,
    )
