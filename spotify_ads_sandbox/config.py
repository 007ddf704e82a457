"""Configuration of the Spotify Ads sandbox and its default (published) credentials."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# These credentials only open the local sandbox; they are published on purpose so that a
# laptop demo works without any secret.
DEFAULT_CLIENT_ID = "5a4db0c5a4db0c5a4db0c5a4db0c5a4d"
DEFAULT_CLIENT_SECRET = "5ec2e75a4db0c5ec2e75a4db0c5ec2e7"  # noqa: S105
DEFAULT_REFRESH_TOKEN = "AQSandbox-refresh-token-for-the-local-spotify-ads-sandbox"  # noqa: S105
DEFAULT_AD_ACCOUNT_ID = "5ad0b0c5-a4db-40c5-8a4d-b0c5a4db0c5a"
# A well-formed ad account that exists but that the sandbox user may not access (403).
DEFAULT_FORBIDDEN_AD_ACCOUNT_ID = "f0bdd0e0-0000-4000-8000-00000000f0bd"

DEFAULT_PORT = 8765

REFRESH_TOKEN_STATES = ("valid", "expired", "revoked")
AUTHORIZE_OUTCOMES = ("approve", "deny")


@dataclass
class SandboxConfig:
    """Knobs of one sandbox instance. Every default mirrors Spotify where Spotify is known.

    Times are in seconds. ``clock`` returns the current time as a UNIX timestamp; tests may
    pass a fake clock to move time forward without sleeping.
    """

    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    refresh_token: str = DEFAULT_REFRESH_TOKEN
    ad_account_id: str = DEFAULT_AD_ACCOUNT_ID
    # Further ad accounts the sandbox user can manage (not exported by ``Sandbox.env()``).
    other_ad_account_ids: tuple[str, ...] = ()
    # Ad accounts that exist but the user cannot access: any call on them answers 403.
    forbidden_ad_account_ids: tuple[str, ...] = (DEFAULT_FORBIDDEN_AD_ACCOUNT_ID,)

    # --- Accounts (OAuth 2.0) ---
    access_token_ttl: int = 3600
    # False: a refresh response omits ``refresh_token`` (keep the old one).
    # True: every refresh issues a new refresh token and revokes the presented one.
    rotate_refresh_token: bool = False
    # State of the configured ``refresh_token`` at start: "valid", "expired" or "revoked".
    refresh_token_status: str = "valid"  # noqa: S105 (a state name, not a secret)
    # Refresh tokens expire this long after the user's authorization; refreshing does not
    # extend it (Spotify: 6 months).
    refresh_token_lifetime: float = 180 * 86400
    authorization_code_ttl: float = 600
    # Registered redirect URIs. A loopback (127.0.0.1 / [::1]) entry matches any port.
    redirect_uris: tuple[str, ...] = ("http://127.0.0.1/callback", "http://[::1]/callback")
    # What the simulated user answers on the consent page: "approve" or "deny".
    authorize_outcome: str = "approve"

    # --- Ads API ---
    rate_limit: int = 1500
    rate_limit_window: float = 30.0
    processing_seconds: float = 0.0
    # Share of identifiers the simulated matching finds on Spotify (deterministic per hash).
    match_rate: float = 0.6

    # --- Upload files and the GCS host ---
    min_identifiers: int = 1000
    max_file_bytes: int = 1024**3
    upload_url_ttl: float = 3600
    upload_session_ttl: float = 7 * 86400
    # Where uploaded bytes are kept; None = a private temporary directory removed on stop.
    data_dir: str | None = None

    clock: Callable[[], float] = field(default=time.time, repr=False)

    def __post_init__(self) -> None:
        if self.refresh_token_status not in REFRESH_TOKEN_STATES:
            raise ValueError(f"refresh_token_status must be one of {REFRESH_TOKEN_STATES}")
        if self.authorize_outcome not in AUTHORIZE_OUTCOMES:
            raise ValueError(f"authorize_outcome must be one of {AUTHORIZE_OUTCOMES}")
        if self.rate_limit < 1 or self.rate_limit_window <= 0:
            raise ValueError("rate_limit must be >= 1 and rate_limit_window > 0")
        if not 0.0 <= self.match_rate <= 1.0:
            raise ValueError("match_rate must be between 0 and 1")
        self.ad_account_id = self.ad_account_id.lower()
        self.other_ad_account_ids = tuple(a.lower() for a in self.other_ad_account_ids)
        self.forbidden_ad_account_ids = tuple(a.lower() for a in self.forbidden_ad_account_ids)

    def accessible_ad_account_ids(self) -> tuple[str, ...]:
        """The ad accounts the sandbox user can manage, the primary one first."""
        return (self.ad_account_id, *self.other_ad_account_ids)
