"""Running inside Snowflake: the sync procedure, its mart reader and ledger, and credentials.

``procedure`` holds the handlers of the Snowpark stored procedure (thin shells around
:mod:`spotify_audiences.in_warehouse`), ``reader`` and ``ledger`` read the marts and keep the
ledger through the procedure's session, ``credentials`` turns Snowflake secrets into Spotify
credentials and ``policy`` is what the procedure allows. ``connector`` reads the marts from
outside (the CLI, through the Snowflake connector). The admin tooling that creates all of it
lives in :mod:`spotify_audiences.snowflake.setup`, outside the staged zip. Nothing here imports
Snowpark or ``_snowflake`` at module level.
"""
