"""Doctor's Snowflake checks: every object `snowflake-setup` creates, with its properties.

Names follow the setup's defaults for the profile's ``database.schema``, where setup stages the
code and creates the UDF, the procedure and the task (custom schemas move only the marts). A
statement the account (or the local emulator) cannot answer makes its check say "cannot verify
here"; on the fakesnow emulator, whose CREATE FUNCTION/PROCEDURE/TASK are no-ops, those checks
say so too instead of reporting objects missing.
"""

from __future__ import annotations

import re

from spotify_audiences.doctor import CANNOT, FAIL, PASS, UNKNOWN, Check, Warehouse
from spotify_audiences.snowflake.setup.sql import (
    CODE_ZIP,
    DEFAULT_OWNER_ROLE,
    HOSTS,
    SECRETS_SCHEMA,
)
from spotify_audiences.snowflake.setup.staged import (
    phonenumbers_zip_name,
    rules_phonenumbers_version,
)

GROUP = "Snowflake setup"
INTEGRATION = "SPOTIFY_AUDIENCES_EGRESS"
FIX_SETUP = "Run `spotify-audiences snowflake-setup --apply` (see docs/snowflake.md)."


def setup_checks(warehouse: Warehouse) -> list[Check]:
    """The network rule, the integration, the secrets, stage files, UDF, procedure, task, grants."""
    home = warehouse.code_home
    database = warehouse.database
    secrets_home = f"{database}.{SECRETS_SCHEMA}"
    version = rules_phonenumbers_version()
    checks = [_stage_check(warehouse, home, version)]
    if warehouse.emulator:
        for name in (
            "network rule hosts",
            "external access integration enabled",
            "secrets exist",
            "phone UDF runs the fast path's phonenumbers",
            "sync procedure present",
            "task state, schedule and last runs",
            "grants",
        ):
            checks.append(
                Check(GROUP, name, UNKNOWN, f"{CANNOT}: the local emulator has no such objects")
            )
        return checks
    checks.append(_network_rule(warehouse, f"{secrets_home}.SPOTIFY_AUDIENCES_EGRESS"))
    checks.append(_integration(warehouse))
    checks.append(_secrets(warehouse, secrets_home))
    checks.append(_udf(warehouse, home, version))
    checks.append(_procedure(warehouse, home))
    checks.append(_task(warehouse, home))
    checks.append(_grants(warehouse, home))
    return checks


def _query(warehouse: Warehouse, sql: str) -> list[tuple] | str:
    try:
        return warehouse.query(sql)
    except Exception as exc:  # unsupported statement, missing privilege, missing object
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return f"{CANNOT}: {first}"


def _stage_check(warehouse: Warehouse, home: str, version: str) -> Check:
    stage = f"{home}.spotify_audiences_code"
    rows = _query(warehouse, f"list @{stage}")
    name = "staged code"
    if isinstance(rows, str):
        return Check(GROUP, name, FAIL, f"no stage {stage}", FIX_SETUP)
    staged = {str(r[0]).rsplit("/", 1)[-1] for r in rows}
    wanted = {"phone_numbers.py", phonenumbers_zip_name(version), CODE_ZIP}
    missing = sorted(wanted - staged)
    if missing:
        return Check(
            GROUP,
            name,
            FAIL,
            f"missing on @{stage}: {', '.join(missing)}",
            "Run `spotify-audiences snowflake-setup --apply --part dbt`.",
        )
    return Check(GROUP, name, PASS, ", ".join(sorted(wanted)))


def _describe(warehouse: Warehouse, sql: str) -> dict[str, str] | str:
    rows = _query(warehouse, sql)
    if isinstance(rows, str):
        return rows
    # DESCRIBE answers property, (type,) value, ...: the first and the value column
    return {str(r[0]).upper(): str(r[2] if len(r) > 3 else r[1]) for r in rows}


def _network_rule(warehouse: Warehouse, rule: str) -> Check:
    name = "network rule hosts"
    described = _describe(warehouse, f"describe network rule {rule}")
    if isinstance(described, str):
        return Check(GROUP, name, UNKNOWN, described, FIX_SETUP)
    hosts = sorted(
        set(re.findall(r"[a-z0-9.-]+\.[a-z]+(?::\d+)?", described.get("VALUE_LIST", "").lower()))
    )
    wanted = sorted(f"{h}:443" for h in HOSTS)
    if hosts != wanted:
        return Check(
            GROUP,
            name,
            FAIL,
            f"{rule} allows {', '.join(hosts) or 'nothing'}; expected {', '.join(wanted)}",
            FIX_SETUP,
        )
    return Check(GROUP, name, PASS, ", ".join(wanted))


def _integration(warehouse: Warehouse) -> Check:
    name = "external access integration enabled"
    described = _describe(warehouse, f"describe integration {INTEGRATION}")
    if isinstance(described, str):
        return Check(GROUP, name, UNKNOWN, described, FIX_SETUP)
    if described.get("ENABLED", "").lower() != "true":
        return Check(
            GROUP,
            name,
            FAIL,
            f"{INTEGRATION} is disabled",
            f"alter external access integration {INTEGRATION} set enabled = true",
        )
    return Check(GROUP, name, PASS, INTEGRATION)


def _secrets(warehouse: Warehouse, secrets_home: str) -> Check:
    name = "secrets exist"
    rows = _query(warehouse, f"show secrets like 'SPOTIFY_AUDIENCES_%' in schema {secrets_home}")
    if isinstance(rows, str):
        return Check(GROUP, name, UNKNOWN, rows, FIX_SETUP)
    names = sorted(str(r[1]) for r in rows)
    if not names:
        return Check(GROUP, name, FAIL, f"none in {secrets_home}", FIX_SETUP)
    return Check(GROUP, name, PASS, ", ".join(names))


def _udf(warehouse: Warehouse, home: str, version: str) -> Check:
    name = "phone UDF runs the fast path's phonenumbers"
    described = _describe(warehouse, f"describe function {home}.normalize_phone(varchar, varchar)")
    if isinstance(described, str):
        return Check(GROUP, name, FAIL, described, "Run `dbt build` (on-run-start creates it).")
    imports = described.get("IMPORTS", "")
    found = re.findall(r"phonenumbers-([0-9][^/'\]\s]*)\.zip", imports)
    if found != [version]:
        return Check(
            GROUP,
            name,
            FAIL,
            f"imports phonenumbers {', '.join(found) or 'from PACKAGES'}; the fast path "
            f"is {version}",
            "Run `snowflake-setup --apply --part dbt`, then `dbt build`.",
        )
    return Check(GROUP, name, PASS, f"phonenumbers {version}")


def _procedure(warehouse: Warehouse, home: str) -> Check:
    name = "sync procedure present"
    rows = _query(warehouse, f"show procedures like 'SPOTIFY_AUDIENCES_SYNC' in schema {home}")
    if isinstance(rows, str):
        return Check(GROUP, name, UNKNOWN, rows, FIX_SETUP)
    if not rows:
        return Check(GROUP, name, FAIL, f"no {home}.spotify_audiences_sync", FIX_SETUP)
    return Check(GROUP, name, PASS, f"{home}.spotify_audiences_sync")


def _task(warehouse: Warehouse, home: str) -> Check:
    name = "task state, schedule and last runs"
    rows = _query(warehouse, f"show tasks like 'SPOTIFY_AUDIENCES_SYNC_TASK' in schema {home}")
    if isinstance(rows, str):
        return Check(GROUP, name, UNKNOWN, rows, FIX_SETUP)
    if not rows:
        return Check(GROUP, name, FAIL, "no task", FIX_SETUP)
    text = " ".join(str(v) for v in rows[0])
    state = "started" if " started " in f" {text.lower()} " else "suspended"
    schedule = next((str(v) for v in rows[0] if "CRON" in str(v).upper()), "?")
    history = _query(
        warehouse,
        f"select state, scheduled_time, error_message from table({home.split('.')[0]}."  # noqa: S608
        "information_schema.task_history(task_name => 'SPOTIFY_AUDIENCES_SYNC_TASK', "
        "result_limit => 5)) order by scheduled_time desc",
    )
    runs = [] if isinstance(history, str) else history
    failed = [r for r in runs if str(r[0]).upper() == "FAILED"]
    detail = f"{state}, {schedule}; last runs: " + (
        ", ".join(str(r[0]).lower() for r in runs) or "none"
    )
    if state != "started":
        return Check(
            GROUP, name, FAIL, detail, f"alter task {home}.spotify_audiences_sync_task resume"
        )
    if runs and str(runs[0][0]).upper() == "FAILED":
        return Check(
            GROUP,
            name,
            FAIL,
            f"{detail}; last error: {failed[0][2]}",
            "Call the procedure by hand to see the summary, fix, and let it run.",
        )
    return Check(GROUP, name, PASS, detail)


def _grants(warehouse: Warehouse, home: str) -> Check:
    name = "grants"
    signature = f"{home}.spotify_audiences_sync(array, varchar, varchar, object)"
    rows = _query(warehouse, f"show grants on procedure {signature}")
    if isinstance(rows, str):
        return Check(GROUP, name, UNKNOWN, rows, FIX_SETUP)
    privileges = {(str(r[1]).upper(), str(r[5]).upper()) for r in rows if len(r) > 5}
    owners = {role for privilege, role in privileges if privilege == "OWNERSHIP"}
    problems = []
    if warehouse.role and warehouse.role.upper() in owners:
        problems.append(
            f"the dbt role {warehouse.role} owns the procedure (use {DEFAULT_OWNER_ROLE})"
        )
    if warehouse.role and ("USAGE", warehouse.role.upper()) not in privileges:
        problems.append(f"{warehouse.role} has no USAGE on the procedure")
    if problems:
        return Check(
            GROUP, name, FAIL, "; ".join(problems), "Run `snowflake-setup --apply --part owner`."
        )
    return Check(
        GROUP,
        name,
        PASS,
        f"owned by {', '.join(sorted(owners)) or '?'}; "
        f"{warehouse.role or 'the dbt role'} may call it",
    )
