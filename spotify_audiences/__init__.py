"""spotify-audiences: mirror warehouse segments into Spotify Ads Manager custom audiences.

The package is the one core that every entry point shares: the CLI, the dbt post-hook and the
Snowflake stored procedure are thin shells around :mod:`spotify_audiences.sync`.
"""

__version__ = "0.1.0"
