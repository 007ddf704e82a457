"""Spotify credentials from Snowflake secrets, for the sync procedure.

The procedure binds secrets under fixed aliases (its ``SECRETS = (...)`` clause). With an
OAUTH2 secret, Snowflake refreshes the access token itself and the handler never sees the
client secret or the refresh token; with generic-string secrets the project's own refresh runs
inside the procedure. ``_snowflake`` exists only inside Snowflake: it is imported when a
secret is first read, and tests pass a stand-in as ``api``.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from spotify_audiences.ads import TokenProvider
from spotify_audiences.config import Secret, SpotifySettings
from spotify_audiences.errors import ConfigError
from spotify_audiences.in_warehouse import Credentials

log = logging.getLogger(__name__)

OAUTH_ALIAS = "spotify_oauth"
CLIENT_ID_ALIAS = "spotify_client_id"
CLIENT_SECRET_ALIAS = "spotify_client_secret"  # noqa: S105 - an alias, not a secret
REFRESH_TOKEN_ALIAS = "spotify_refresh_token"  # noqa: S105


def snowflake_api() -> Any:
    """The ``_snowflake`` module of the procedure's runtime."""
    try:
        import _snowflake  # type: ignore[import-not-found]
    except ImportError:
        raise ConfigError(
            "Snowflake secrets can only be read inside a Snowflake procedure (no _snowflake)."
        ) from None
    return _snowflake


class SnowflakeOAuthTokens:
    """A :class:`~spotify_audiences.ads.TokenProvider` backed by an OAUTH2 secret.

    ``_snowflake.get_oauth_access_token`` answers a valid access token, refreshed by Snowflake
    through the secret's security integration.
    """

    def __init__(self, alias: str = OAUTH_ALIAS, api: Any = None) -> None:
        self._alias = alias
        self._api = api

    def token(self) -> str:
        """A current access token from Snowflake."""
        api = self._api or snowflake_api()
        try:
            token = api.get_oauth_access_token(self._alias)
        except Exception as exc:  # the runtime raises plain exceptions for unbound aliases
            raise ConfigError(
                f"Cannot read the OAuth secret bound as {self._alias!r}: "
                f"{type(exc).__name__}. Check the procedure's SECRETS clause and the secret's "
                "refresh token (it expires six months after `spotify-audiences login`)."
            ) from None
        if not token:
            raise ConfigError(f"The OAuth secret bound as {self._alias!r} gave no access token.")
        return str(token)

    def invalidate(self) -> None:
        """Nothing to drop: Snowflake decides when to refresh; the next call asks it again."""
        log.info("Spotify refused the access token from the OAuth secret; asking Snowflake again")


def oauth_secret(alias: str = OAUTH_ALIAS, api: Any = None) -> Credentials:
    """Credentials for :func:`~spotify_audiences.in_warehouse.run_sync` from an OAUTH2 secret."""

    def resolve(settings: SpotifySettings) -> tuple[SpotifySettings, TokenProvider | None]:
        return settings, SnowflakeOAuthTokens(alias, api)

    return resolve


def generic_secrets(
    client_id: str = CLIENT_ID_ALIAS,
    client_secret: str = CLIENT_SECRET_ALIAS,
    refresh_token: str = REFRESH_TOKEN_ALIAS,
    api: Any = None,
) -> Credentials:
    """Credentials from three GENERIC_STRING secrets; the project's own refresh then runs."""

    def resolve(settings: SpotifySettings) -> tuple[SpotifySettings, TokenProvider | None]:
        snowflake = api or snowflake_api()

        def read(alias: str) -> str:
            try:
                value = snowflake.get_generic_secret_string(alias)
            except Exception as exc:  # as above: unbound alias, missing READ privilege
                raise ConfigError(
                    f"Cannot read the secret bound as {alias!r}: {type(exc).__name__}. Check the "
                    "procedure's SECRETS clause."
                ) from None
            if not value or not str(value).strip():
                raise ConfigError(f"The secret bound as {alias!r} is empty.")
            return str(value).strip()

        with_credentials = dataclasses.replace(
            settings,
            client_id=read(client_id),
            client_secret=Secret(read(client_secret)),
            refresh_token=Secret(read(refresh_token)),
        )
        return with_credentials, None

    return resolve
