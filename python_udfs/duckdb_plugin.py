"""dbt-duckdb plugin that registers the project's Python UDFs on every DuckDB connection.

Declared under ``plugins:`` in ``profiles.yml`` (``module: python_udfs.duckdb_plugin``).
"""

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import VARCHAR

from python_udfs.phone_numbers import normalize_phone


class Plugin(BasePlugin):
    """Registers ``normalize_phone(raw varchar, region varchar) -> varchar``."""

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        """Create the UDFs on a new connection; dbt-duckdb calls this once per connection."""
        conn.create_function(
            "normalize_phone",
            normalize_phone,
            [VARCHAR, VARCHAR],
            VARCHAR,
            null_handling="special",
            side_effects=False,
        )
