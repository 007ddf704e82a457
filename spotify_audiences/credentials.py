"""Where the refresh token comes from and goes to: the token file, the env var, its age.

Kept apart from :mod:`spotify_audiences.login` (the browser flow, with its loopback server) so
that code running inside dbt or Snowflake loads only this.

The token file is JSON, mode 0600 in a 0700 directory::

    {"refresh_token": "...", "obtained_at": "2026-01-02T03:04:05+00:00", "saved_at": 1767323045}

``obtained_at`` is when ``login`` got the token from the user's authorization. A rotation
(Spotify sending a new refresh token with a refresh) keeps it: Spotify counts the six months
from the authorization, not from the last refresh.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from spotify_audiences.auth import LogRotationSink, RefreshTokenSink
from spotify_audiences.config import ENV_REFRESH_TOKEN, Secret, SpotifySettings
from spotify_audiences.errors import ConfigError

log = logging.getLogger(__name__)

TOKEN_FILE_MODE = 0o600
ENV_TOKEN_FILE = "SPOTIFY_AUDIENCES_TOKEN_FILE"  # noqa: S105 - a variable name
# Spotify: refresh tokens expire six months after the user's authorization. 180 days is the
# short reading of "six months", so the warning never comes late.
REFRESH_TOKEN_LIFETIME = timedelta(days=180)
AGE_WARNING_WINDOW = timedelta(days=30)


def default_token_path() -> Path:
    """``$XDG_CONFIG_HOME/spotify-audiences/token.json`` (``~/.config`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "spotify-audiences" / "token.json"


@dataclass(frozen=True)
class StoredToken:
    """What the token file holds."""

    refresh_token: Secret
    obtained_at: datetime | None  # None: a file written before dates were recorded


def _parse_time(value: object) -> datetime | None:
    try:
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            parsed = datetime.fromtimestamp(value, UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class TokenStore:
    """A refresh token in a file only its owner can read (mode 0600, directory 0700).

    :meth:`save` records a new authorization (``login``); :meth:`rotate` replaces the token and
    keeps the authorization's date. Pass :class:`TokenFileSink`, not the store, where a
    :class:`~spotify_audiences.auth.RefreshTokenSink` is expected.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_token_path()
        self._mode_checked = False

    def read(self) -> StoredToken | None:
        """The stored token and its date, or None without a file or a token in it.

        A file that others may read is still used, with a warning that says how to fix it.
        """
        try:
            data = json.loads(self.path.read_text())
            mode = stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Cannot read the token file {self.path}: {exc}") from None
        if mode & 0o077 and not self._mode_checked:
            log.warning(
                "The token file %s has mode %04o: other users can read the refresh token. "
                "Run `chmod 600 %s`.",
                self.path,
                mode,
                self.path,
            )
        self._mode_checked = True
        if not isinstance(data, dict) or not isinstance(data.get("refresh_token"), str):
            return None
        if not data["refresh_token"]:
            return None
        return StoredToken(Secret(data["refresh_token"]), _parse_time(data.get("obtained_at")))

    def load(self) -> Secret | None:
        """The stored refresh token, or None."""
        stored = self.read()
        return stored.refresh_token if stored else None

    def save(self, refresh_token: Secret, *, obtained_at: datetime | None = None) -> None:
        """Store the token of a new authorization (``obtained_at`` defaults to now)."""
        self._write(refresh_token, obtained_at or datetime.now(UTC))

    def rotate(self, refresh_token: Secret) -> None:
        """Store a token Spotify rotated, keeping the date of the original authorization."""
        try:
            stored = self.read()
        except ConfigError:
            stored = None
        self._write(refresh_token, stored.obtained_at if stored else None)

    def _write(self, refresh_token: Secret, obtained_at: datetime | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        document: dict[str, object] = {"refresh_token": refresh_token.reveal()}
        if obtained_at is not None:
            document["obtained_at"] = obtained_at.astimezone(UTC).isoformat(timespec="seconds")
        document["saved_at"] = int(time.time())
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, TOKEN_FILE_MODE)
        with os.fdopen(fd, "w") as fh:
            json.dump(document, fh)
        os.chmod(tmp, TOKEN_FILE_MODE)
        os.replace(tmp, self.path)

    def delete(self) -> bool:
        """Remove the token file; False when there was none."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


class TokenFileSink:
    """The rotation sink for a token read from the token file; knows the token's date."""

    def __init__(self, store: TokenStore, obtained_at: datetime | None = None) -> None:
        self.store = store
        self.obtained_at = obtained_at

    def save(self, refresh_token: Secret) -> None:
        """Write the rotated token back, keeping the authorization date."""
        self.store.rotate(refresh_token)


def settings_with_stored_token(
    settings: SpotifySettings, store: TokenStore | None = None
) -> tuple[SpotifySettings, RefreshTokenSink]:
    """The env var wins; else the token saved by ``login``, which also receives rotations.

    ``store`` defaults to ``SPOTIFY_AUDIENCES_TOKEN_FILE``, else :func:`default_token_path`.
    """
    if settings.refresh_token is not None:
        return settings, LogRotationSink(ENV_REFRESH_TOKEN)
    if store is None:
        token_file = os.environ.get(ENV_TOKEN_FILE)
        store = TokenStore(Path(token_file) if token_file else None)
    stored = store.read()
    if stored is None:
        return settings, TokenFileSink(store)
    sink = TokenFileSink(store, stored.obtained_at)
    return dataclasses.replace(settings, refresh_token=stored.refresh_token), sink


def refresh_token_age_warning(
    obtained_at: datetime | None, *, now: datetime | None = None, where: str | None = None
) -> str | None:
    """The warning to show in the refresh token's last 30 days (or after), else None.

    ``obtained_at`` is the date of the user's authorization; None (a token from an env var or
    an old token file) gives no warning.
    """
    if obtained_at is None:
        return None
    now = now or datetime.now(UTC)
    if obtained_at.tzinfo is None:
        obtained_at = obtained_at.replace(tzinfo=UTC)
    expires = obtained_at + REFRESH_TOKEN_LIFETIME
    if now < expires - AGE_WARNING_WINDOW:
        return None
    token = f"The Spotify refresh token{f' in {where}' if where else ''}"
    obtained = obtained_at.date().isoformat()
    if now >= expires:
        when = f"expired on {expires.date().isoformat()}"
    else:
        days = int((expires - now) / timedelta(days=1))
        left = "in less than a day" if days < 1 else f"in {days} day{'s' if days != 1 else ''}"
        when = f"expires on {expires.date().isoformat()} ({left})"
    return (
        f"{token} was obtained on {obtained} and {when}: Spotify ends refresh tokens six months "
        "after authorization. Renew it with `spotify-audiences login`, or with "
        f"`spotify-audiences login --print` for {ENV_REFRESH_TOKEN} or a Snowflake secret."
    )


def warn_refresh_token_age(sink: RefreshTokenSink | None) -> str | None:
    """Log (and return) the age warning for the token behind ``sink``, if it needs one.

    ``sink`` is the one :func:`settings_with_stored_token` returned; only a token from the
    token file has a date.
    """
    if not isinstance(sink, TokenFileSink):
        return None
    text = refresh_token_age_warning(sink.obtained_at, where=str(sink.store.path))
    if text:
        log.warning("%s", text)
    return text
