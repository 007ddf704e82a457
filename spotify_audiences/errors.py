"""One error hierarchy for everything a sync can run into.

Every error carries a message a user can act on. Errors that come from Spotify also carry the
HTTP status, Spotify's ``messages`` and the ``sp_trace_id`` that Spotify support asks for. The
CLI prints ``str(error)`` as one line and exits with ``error.exit_code``.

Nothing in here ever holds a token, a client secret or a signed upload URL: callers pass the
request path without its query string.
"""

from __future__ import annotations

from collections.abc import Sequence

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_AUTH = 4
EXIT_SPOTIFY = 5
EXIT_NETWORK = 6
EXIT_WAREHOUSE = 7


class SpotifyAudiencesError(Exception):
    """Base class: a failure with a message a user can act on."""

    exit_code: int = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class ConfigError(SpotifyAudiencesError):
    """A setting is missing or malformed; the message names the variable to set."""

    exit_code = EXIT_USAGE


class RefusedError(SpotifyAudiencesError):
    """A check made before any network call refused the sync (too few identifiers, too big)."""

    exit_code = EXIT_REFUSED


class WarehouseError(SpotifyAudiencesError):
    """The warehouse could not be read (no build yet, missing mart, bad rows)."""

    exit_code = EXIT_WAREHOUSE


class NetworkError(SpotifyAudiencesError):
    """The connection failed or timed out before an answer came back."""

    exit_code = EXIT_NETWORK


class DeadlineExceededError(NetworkError):
    """The sync's ``--deadline`` ran out before or during a request."""


class ServiceUnavailableError(NetworkError):
    """Spotify's token endpoint was down or answered something that is not OAuth JSON.

    Not an authentication failure: logging in again would not help; trying later may.
    """

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class UploadError(SpotifyAudiencesError):
    """The file upload to the signed storage URL failed."""

    exit_code = EXIT_SPOTIFY


class AmbiguousAudienceError(SpotifyAudiencesError):
    """Several audiences in the ad account carry the same name."""

    exit_code = EXIT_SPOTIFY


class SpotifyApiError(SpotifyAudiencesError):
    """Spotify answered with an error status."""

    exit_code = EXIT_SPOTIFY

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        messages: Sequence[str] = (),
        error_codes: Sequence[str] = (),
        sp_trace_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.messages = list(messages)
        self.error_codes = list(error_codes)
        self.sp_trace_id = sp_trace_id
        self.method = method
        self.path = path

    def __str__(self) -> str:
        parts = [self.message]
        if self.messages:
            parts.append("Spotify says: " + "; ".join(self.messages) + ".")
        if self.error_codes:
            parts.append("Codes: " + ", ".join(self.error_codes) + ".")
        if self.hint:
            parts.append(self.hint)
        if self.sp_trace_id:
            parts.append(f"(sp_trace_id {self.sp_trace_id})")
        return " ".join(parts)


class RedirectRefusedError(SpotifyApiError):
    """A call that carries credentials was answered with a redirect, which is never followed."""


class AuthenticationError(SpotifyApiError):
    """The access token or the client credentials were refused."""

    exit_code = EXIT_AUTH


class TokenExpiredError(AuthenticationError):
    """The refresh token expired or was revoked: the user must log in again."""


class PermissionDeniedError(SpotifyApiError):
    """HTTP 403: the user may not manage audiences here, or the API terms are not accepted."""


class NotFoundError(SpotifyApiError):
    """HTTP 404: the ad account or audience does not exist (for this user)."""


class BadRequestError(SpotifyApiError):
    """HTTP 400: Spotify rejected the request."""


class RateLimitedError(SpotifyApiError):
    """HTTP 429 and the retry budget is spent."""


class ServerError(SpotifyApiError):
    """HTTP 5xx and the retry budget is spent."""
