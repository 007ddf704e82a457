"""Settings: read once from the environment, validated in one place before any network call."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from spotify_audiences.errors import ConfigError

ENV_CLIENT_ID = "SPOTIFY_CLIENT_ID"
ENV_CLIENT_SECRET = "SPOTIFY_CLIENT_SECRET"  # noqa: S105 - the variable's name, not a secret
ENV_REFRESH_TOKEN = "SPOTIFY_REFRESH_TOKEN"  # noqa: S105
ENV_AD_ACCOUNT_ID = "SPOTIFY_AD_ACCOUNT_ID"
ENV_ADS_API_URL = "SPOTIFY_ADS_API_URL"
ENV_ACCOUNTS_URL = "SPOTIFY_ACCOUNTS_URL"

DEFAULT_ADS_API_URL = "https://api-partner.spotify.com/ads/v3"
DEFAULT_ACCOUNTS_URL = "https://accounts.spotify.com"

AUDIENCE_NAME_MIN = 2
AUDIENCE_NAME_MAX = 80
MIN_IDENTIFIERS = 1_000
MAX_FILE_BYTES = 1 << 30
CHUNK_GRANULARITY = 256 * 1024
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 120.0


class Secret:
    """A string that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def validate_uuid(value: str, *, what: str, env: str | None = None) -> str:
    """``value`` as a canonical lower-case UUID, or an error naming where it came from."""
    source = f" (set {env})" if env else ""
    try:
        parsed = uuid.UUID(value.strip())
    except (ValueError, AttributeError):
        raise ConfigError(
            f"{what} must be a UUID like ce4ff15e-f04d-48b9-9ddf-fb3c85fbd57a{source}; "
            "find it in Spotify Ads Manager under account settings."
        ) from None
    if str(parsed) != value.strip().lower():
        raise ConfigError(f"{what} must be a UUID in the 8-4-4-4-12 form{source}.")
    return str(parsed)


def validate_audience_name(name: str) -> str:
    """Spotify accepts audience names of 2 to 80 characters."""
    if not AUDIENCE_NAME_MIN <= len(name) <= AUDIENCE_NAME_MAX:
        raise ConfigError(
            f"Audience name {name!r} has {len(name)} characters; Spotify accepts "
            f"{AUDIENCE_NAME_MIN} to {AUDIENCE_NAME_MAX}. Rename the audience in the members data."
        )
    return name


def is_loopback_host(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str, *, what: str) -> str:
    """Refuse any endpoint that is not HTTPS, except on the loopback interface."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return url
    raise ConfigError(
        f"{what} must be an https:// URL (plain http is allowed only on 127.0.0.1); "
        f"got scheme {parts.scheme or 'none'!r} for host {parts.hostname or 'none'!r}."
    )


_TRAILING_SLASH = re.compile(r"/+$")


@dataclass(frozen=True)
class SpotifySettings:
    """Where Spotify is and who we are to it."""

    ad_account_id: str | None
    client_id: str | None = None
    client_secret: Secret | None = field(default=None, repr=False)
    refresh_token: Secret | None = field(default=None, repr=False)
    ads_api_url: str = DEFAULT_ADS_API_URL
    accounts_url: str = DEFAULT_ACCOUNTS_URL

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SpotifySettings:
        """Read the ``SPOTIFY_*`` variables; empty values count as unset."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        secret = get(ENV_CLIENT_SECRET)
        refresh = get(ENV_REFRESH_TOKEN)
        return cls(
            ad_account_id=get(ENV_AD_ACCOUNT_ID),
            client_id=get(ENV_CLIENT_ID),
            client_secret=Secret(secret) if secret else None,
            refresh_token=Secret(refresh) if refresh else None,
            ads_api_url=_TRAILING_SLASH.sub("", get(ENV_ADS_API_URL) or DEFAULT_ADS_API_URL),
            accounts_url=_TRAILING_SLASH.sub("", get(ENV_ACCOUNTS_URL) or DEFAULT_ACCOUNTS_URL),
        )

    def validated(
        self, *, require_credentials: bool = True, require_account: bool = True
    ) -> SpotifySettings:
        """Check everything that can be checked without the network; return self.

        ``require_account=False``: the env ad account is only the default of the audiences
        that name none; it is still checked when set.
        """
        if not self.ad_account_id and require_account:
            raise ConfigError(
                f"No ad account: set {ENV_AD_ACCOUNT_ID} to your Spotify ad account id (a UUID)."
            )
        if self.ad_account_id:
            validate_uuid(self.ad_account_id, what="The ad account id", env=ENV_AD_ACCOUNT_ID)
        check_endpoint(self.ads_api_url, what=ENV_ADS_API_URL)
        check_endpoint(self.accounts_url, what=ENV_ACCOUNTS_URL)
        if require_credentials:
            # The client secret is optional: apps authorized with PKCE have none.
            missing = [
                name
                for name, value in (
                    (ENV_CLIENT_ID, self.client_id),
                    (ENV_REFRESH_TOKEN, self.refresh_token),
                )
                if value is None
            ]
            if missing:
                raise ConfigError(
                    "Missing Spotify credentials: set "
                    + ", ".join(missing)
                    + " (run `spotify-audiences login` to obtain a refresh token)."
                )
        return self

    @property
    def account_id(self) -> str:
        """The validated ad account id, lower-cased."""
        if not self.ad_account_id:
            raise ConfigError(f"No ad account: set {ENV_AD_ACCOUNT_ID}.")
        return self.ad_account_id.strip().lower()


CONFIG_VAR = "spotify_audiences_config"
DEFAULT_MAX_SHRINK = 0.5
DEFAULT_MAX_REJECTED_SHARE = 0.2


@dataclass(frozen=True)
class AudienceConfig:
    """Per-audience settings: the Spotify audience to replace and the guards' thresholds."""

    audience_id: str | None = None
    min_identifiers: int = MIN_IDENTIFIERS
    max_shrink: float = DEFAULT_MAX_SHRINK
    max_rejected_share: float = DEFAULT_MAX_REJECTED_SHARE
    description: str | None = None
    # None: the SPOTIFY_AD_ACCOUNT_ID of the sync (or the procedure's ad_account_id argument)
    ad_account_id: str | None = None


# The keys of one audience in the var; ``model`` is dbt's business (the members' node).
AUDIENCE_KEYS = frozenset({*AudienceConfig.__dataclass_fields__, "model"})
# ``defaults`` applies to every audience: a model or a Spotify audience id cannot.
DEFAULT_KEYS = AUDIENCE_KEYS - {"model", "audience_id"}


def audience_config(
    raw: Mapping[str, object],
    base: AudienceConfig,
    where: str,
    *,
    keys: frozenset[str] = AUDIENCE_KEYS,
) -> AudienceConfig:
    """Validate one audience's settings (var entry or summary row) over ``base``."""
    unknown = set(raw) - keys
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(keys))}."
        )
    values = {**base.__dict__, **{k: v for k, v in raw.items() if v is not None and v != ""}}
    try:
        config = AudienceConfig(
            audience_id=str(values["audience_id"]) if values["audience_id"] else None,
            min_identifiers=int(values["min_identifiers"]),  # type: ignore[call-overload]
            max_shrink=float(values["max_shrink"]),  # type: ignore[arg-type]
            max_rejected_share=float(values["max_rejected_share"]),  # type: ignore[arg-type]
            description=str(values["description"]) if values["description"] else None,
            ad_account_id=str(values["ad_account_id"]) if values["ad_account_id"] else None,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if not 0 <= config.max_shrink <= 1 or not 0 <= config.max_rejected_share <= 1:
        raise ConfigError(f"{where}: max_shrink and max_rejected_share are shares from 0 to 1.")
    if config.audience_id:
        validate_uuid(config.audience_id, what=f"{where}: audience_id")
    if config.ad_account_id:
        account = validate_uuid(config.ad_account_id, what=f"{where}: ad_account_id")
        config = dataclasses.replace(config, ad_account_id=account)
    return config


@dataclass(frozen=True)
class ProjectConfig:
    """The ``spotify_audiences_config`` dbt var: defaults plus per-audience overrides."""

    defaults: AudienceConfig = field(default_factory=AudienceConfig)
    audiences: Mapping[str, AudienceConfig] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object] | None) -> ProjectConfig:
        """Validate the var's value (a mapping with ``defaults`` and ``audiences``)."""
        raw = raw or {}
        unknown = set(raw) - {"defaults", "audiences"}
        if unknown:
            raise ConfigError(f"{CONFIG_VAR}: unknown key(s) {', '.join(sorted(unknown))}.")
        defaults = audience_config(
            raw.get("defaults") or {},  # type: ignore[arg-type]
            AudienceConfig(),
            f"{CONFIG_VAR}.defaults",
            keys=DEFAULT_KEYS,
        )
        audiences = {
            str(name): audience_config(value or {}, defaults, f"{CONFIG_VAR}.audiences.{name}")
            for name, value in (raw.get("audiences") or {}).items()  # type: ignore[union-attr]
        }
        return cls(defaults=defaults, audiences=audiences)

    @classmethod
    def from_project(cls, project_dir: Path) -> ProjectConfig:
        """Read the var from ``dbt_project.yml`` (its ``vars:`` block is plain YAML)."""
        import yaml

        path = project_dir / "dbt_project.yml"
        try:
            project = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            return cls()
        except yaml.YAMLError as exc:
            raise ConfigError(f"Cannot read {path}: {exc}") from None
        return cls.from_mapping((project.get("vars") or {}).get(CONFIG_VAR))

    def for_audience(self, name: str) -> AudienceConfig:
        """The settings that apply to one audience."""
        return self.audiences.get(name, self.defaults)
