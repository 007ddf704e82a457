"""The marts and the ledger on Snowflake from outside it: the connector dbt-snowflake installs.

``spotify-audiences sync --target <a snowflake target>`` (an orchestrator, cron, a laptop) opens
one connection as dbt-snowflake opens it, from the same profile credentials (key pair, password,
OAuth, SSO...: ``auth_args()`` of dbt-snowflake's credentials), and reads and writes with the
same SQL as on DuckDB (:class:`~spotify_audiences.warehouse.SqlMartReader`,
:class:`~spotify_audiences.ledger.SqlLedger`) through the connector's ``qmark`` parameters.
"""

from __future__ import annotations

from typing import Any

from spotify_audiences.errors import WarehouseError
from spotify_audiences.warehouse import (
    BATCH_ROWS,
    DbtTarget,
    MartRelations,
    SqlMartReader,
    snowflake_quote,
)

QUERY_TAG = "spotify-audiences sync"


def connect(target: DbtTarget, *, paramstyle: str = "qmark", query_tag: str = QUERY_TAG) -> Any:
    """A connection opened as dbt-snowflake opens one, from the target's credentials.

    ``host``, ``port`` and ``protocol`` of the profile (a proxy, an emulator) come through
    ``auth_args()`` as for dbt itself. ``qmark`` binds values on the server: they travel beside
    the statement, never spliced into its text. ``query_tag`` names the command in the query
    history.
    """
    import snowflake.connector

    creds = target.credentials
    try:
        return snowflake.connector.connect(
            account=creds.account,
            database=creds.database,
            schema=creds.schema,
            warehouse=creds.warehouse,
            role=creds.role,
            autocommit=True,
            paramstyle=paramstyle,
            application="spotify-audiences",
            client_session_keep_alive=creds.client_session_keep_alive,
            insecure_mode=creds.insecure_mode,
            login_timeout=creds.connect_timeout or 60,
            session_parameters={"QUERY_TAG": query_tag},
            **creds.auth_args(),
        )
    except snowflake.connector.errors.Error as exc:
        raise WarehouseError(
            f"Cannot connect to Snowflake with target {target.name!r}: {exc}"
        ) from None


class SnowflakeMartReader(SqlMartReader):
    """The marts and the ledger in Snowflake, through the connector."""

    dialect = "snowflake"

    def __init__(
        self,
        connection: Any,
        relations: MartRelations,
        *,
        batch_rows: int = BATCH_ROWS,
        owned: bool = True,
        where: str = "Snowflake",
    ) -> None:
        import snowflake.connector

        super().__init__(
            connection,
            relations,
            quote=snowflake_quote,
            errors=(snowflake.connector.errors.ProgrammingError,),
            where=where,
            batch_rows=batch_rows,
            owned=owned,
        )

    @classmethod
    def from_target(
        cls, target: DbtTarget, relations: MartRelations, *, batch_rows: int = BATCH_ROWS
    ) -> SnowflakeMartReader:
        """Connect with the target's credentials; the reader closes the connection."""
        connection = connect(target)
        try:
            return cls(
                connection, relations, batch_rows=batch_rows, where=f"target {target.name!r}"
            )
        except BaseException:
            connection.close()
            raise
