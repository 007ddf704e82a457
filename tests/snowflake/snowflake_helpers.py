"""Snowflake stand-ins for tests: a fakesnow server in this process, dbt on its target."""

from __future__ import annotations

import contextlib
import csv
import importlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from support import ROOT, dbt_command

# What fakesnow cannot run: answered as a successful no-op instead. dbt prefixes statements with
# a /* query comment */. CREATE FUNCTION would otherwise become a DuckDB macro returning the
# Python source; the UDF is registered below from the same handler instead.
NOP_REGEXES = [
    r"^(?:\s|/\*[\s\S]*?\*/)*create\s+(?:or\s+replace\s+)?function\s",
    r"^(?:\s|/\*[\s\S]*?\*/)*call\s",
]
DATABASE = "SPOTIFY_AUDIENCES"
MEMBERS_TABLE = "CRM.AUDIENCE_MEMBERS"


@dataclass
class FakesnowServer:
    """A fakesnow server on a loopback port, with the project's phone UDF registered."""

    host: str
    port: int

    def connect_kwargs(self, schema: str | None = None) -> dict[str, object]:
        """Keyword arguments for ``snowflake.connector.connect``."""
        return {
            "user": "fake",
            "password": "snow",
            "account": "fakesnow",
            "host": self.host,
            "port": self.port,
            "protocol": "http",
            "database": DATABASE,
            "schema": schema,
            "network_timeout": 5,
            "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        }

    def connect(self, schema: str | None = None):
        import snowflake.connector

        return snowflake.connector.connect(**self.connect_kwargs(schema))

    def query(self, sql: str) -> list[tuple]:
        with contextlib.closing(self.connect()) as connection:
            return list(connection.cursor().execute(sql).fetchall())


@contextlib.contextmanager
def fakesnow_server() -> Iterator[FakesnowServer]:
    """Serve fakesnow's HTTP API from this process on 127.0.0.1 and a free port."""
    import uvicorn
    from duckdb.sqltypes import VARCHAR
    from spotify_audiences.udfs.phone_numbers import normalize_phone

    # the submodule, not fakesnow.server(): importing it rebinds that name on the package
    module = importlib.import_module("fakesnow.server")
    shared = module.shared_fs
    shared.nop_regexes = NOP_REGEXES
    with contextlib.suppress(Exception):
        shared.duck_conn.remove_function("normalize_phone")
    shared.duck_conn.create_function(
        "normalize_phone", normalize_phone, [VARCHAR, VARCHAR], VARCHAR, null_handling="special"
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(module.app, log_level="warning"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="fakesnow", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fakesnow server did not start")
        time.sleep(0.05)
    try:
        yield FakesnowServer(host="127.0.0.1", port=port)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def load_members(server: FakesnowServer, members_csv: Path) -> str:
    """Load a members CSV into a table as a CRM export lands in Snowflake: PUT, COPY INTO."""
    with open(members_csv, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    schema, _ = MEMBERS_TABLE.split(".")
    table = f"{DATABASE}.{MEMBERS_TABLE}"
    stage = f"{DATABASE}.{schema}.EXPORTS"
    columns = ", ".join(f"{name} varchar" for name in header)
    with contextlib.closing(server.connect()) as connection:
        cursor = connection.cursor()
        cursor.execute(f"create schema if not exists {DATABASE}.{schema}")
        cursor.execute(f"create or replace table {table} ({columns})")
        cursor.execute(f"create or replace stage {stage}")
        cursor.execute(f"put 'file://{members_csv.resolve()}' @{stage} auto_compress = false")
        cursor.execute(
            f"copy into {table} from @{stage} "
            "file_format = (type = csv skip_header = 1 field_optionally_enclosed_by = '\"')"
        )
    return table


def dbt_on_fakesnow(
    server: FakesnowServer,
    workdir: Path,
    *args: str,
    schema: str = "AUDIENCES",
    project_dir: Path = ROOT,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run a real dbt command with the snowflake adapter against the fakesnow server."""
    full_env = {
        **os.environ,
        "FAKESNOW_PORT": str(server.port),
        "FAKESNOW_SCHEMA": schema,
        **(env or {}),
    }
    command = dbt_command(args[0], workdir, *args[1:], target="fakesnow", project_dir=project_dir)
    return subprocess.run(
        command, cwd=project_dir, env=full_env, capture_output=True, text=True, timeout=300
    )


MARTS = ("SPOTIFY_AUDIENCE_IDENTIFIERS", "SPOTIFY_AUDIENCE_REJECTS", "SPOTIFY_AUDIENCE_SUMMARY")


def copy_marts(server: FakesnowServer, schema: str, session, target_schema: str) -> None:
    """Copy the marts dbt built on fakesnow into a Snowpark local-testing session's tables."""
    with contextlib.closing(server.connect()) as connection:
        for table in MARTS:
            cursor = connection.cursor()
            cursor.execute(f"select * from {schema}.{table}")
            columns = [d[0].upper() for d in cursor.description]
            rows = [list(row) for row in cursor.fetchall()]
            session.create_dataframe(rows, schema=columns).write.save_as_table(
                f"{target_schema}.{table}", mode="overwrite"
            )


class SnowflakeRuntime:
    """Stands in for the ``_snowflake`` module that Snowflake gives a procedure's handler.

    The OAUTH2 secret behaves as Snowflake's does: it holds the client credentials (from the
    security integration) and the refresh token, and answers a fresh access token from the
    Accounts token endpoint. Generic secrets answer their strings.
    """

    def __init__(self, sandbox_env: dict[str, str], *, bound: set[str] | None = None) -> None:
        self._env = sandbox_env
        self._generic = {
            "spotify_client_id": sandbox_env["SPOTIFY_CLIENT_ID"],
            "spotify_client_secret": sandbox_env["SPOTIFY_CLIENT_SECRET"],
            "spotify_refresh_token": sandbox_env["SPOTIFY_REFRESH_TOKEN"],
        }
        self._bound = bound if bound is not None else {"spotify_oauth", *self._generic}
        self.reads: list[str] = []

    def _check(self, alias: str) -> None:
        self.reads.append(alias)
        if alias not in self._bound:
            raise ValueError(f"secret alias {alias} is not bound to this procedure")

    def vectorized(self, input):
        return lambda handler: handler

    def get_generic_secret_string(self, alias: str) -> str:
        self._check(alias)
        return self._generic[alias]

    def get_oauth_access_token(self, alias: str) -> str:
        import requests

        self._check(alias)
        response = requests.post(
            self._env["SPOTIFY_ACCOUNTS_URL"] + "/api/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": self._generic["spotify_refresh_token"],
            },
            auth=(self._generic["spotify_client_id"], self._generic["spotify_client_secret"]),
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["access_token"]


def project_with_post_hook(
    directory: Path, hook: str | None = None, failing_test: str | None = None
) -> Path:
    """A copy of the dbt project; ``hook`` replaces the sync post-hook of spotify_audience_sync.

    ``failing_test`` adds a singular data test of that name that fails on the members, upstream
    of the marts, as a user's failing test would.
    """
    import shutil

    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    for name in ("models", "macros", "python_udfs", "data"):
        shutil.copytree(ROOT / name, directory / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests" / "dbt", directory / "tests" / "dbt")
    shutil.copy(ROOT / "profiles.yml", directory / "profiles.yml")
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    if hook is not None:
        sync = project["models"]["spotify_audiences"]["sync"]["spotify_audience_sync"]
        sync["+post-hook"] = hook
    if failing_test:
        (directory / "tests" / "dbt" / f"{failing_test}.sql").write_text(
            "-- fails on purpose: every member row is a failure\n"
            "select * from {{ ref('stg_audience_members') }}\n"
        )
    (directory / "dbt_project.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    return directory
