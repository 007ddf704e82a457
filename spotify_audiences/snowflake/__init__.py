"""Running inside Snowflake: the sync procedure, its mart reader and credentials, and the setup.

``procedure`` holds the handlers of the Snowpark stored procedure (thin shells around
:mod:`spotify_audiences.in_warehouse`), ``reader`` reads the marts through the procedure's
session, ``credentials`` turns Snowflake secrets into Spotify credentials, ``setup_sql``
writes every statement an admin runs, and ``commands`` is the ``snowflake-setup`` command.
Nothing here imports Snowpark or ``_snowflake`` at module level.
"""
