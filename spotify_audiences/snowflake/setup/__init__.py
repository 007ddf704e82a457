"""The admin's Snowflake setup: run from a laptop or CI, never inside Snowflake.

``sql`` writes every statement an admin runs (roles, secrets, network access, the stage, the
UDF, the sync procedure and its task), ``staged`` builds the files it stages, ``commands`` is
the ``spotify-audiences snowflake-setup`` command and ``doctor_checks`` are the doctor's checks
of a set-up account. This subpackage is left out of the code zip the procedure imports
(:func:`~spotify_audiences.snowflake.setup.staged.build_code_zip`): nothing in Snowflake
imports it.
"""
