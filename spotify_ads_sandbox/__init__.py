"""A local Spotify Ads sandbox: Accounts (OAuth), Ads API v3 audiences and GCS uploads."""

from .config import (
    DEFAULT_AD_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PORT,
    DEFAULT_REFRESH_TOKEN,
    SandboxConfig,
)
from .server import Sandbox, export_lines, serve_forever

__all__ = [
    "DEFAULT_AD_ACCOUNT_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_PORT",
    "DEFAULT_REFRESH_TOKEN",
    "Sandbox",
    "SandboxConfig",
    "export_lines",
    "serve_forever",
]
