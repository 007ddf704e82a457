"""The user's dbt project as dbt resolves it: profile, target, and where the marts were built.

The sync reads the marts where ``dbt build`` wrote them. That place depends on the project's
``profile:``, the target (``--target``, else the profile's default), and the project's own
configuration: custom schemas (``+schema:`` and the project's ``generate_schema_name``),
databases and aliases. Rather than re-implement any of that, :func:`resolve_project` runs
``dbt parse`` in this process and reads the three marts' nodes from the manifest it returns.
dbt's output is silenced (it would corrupt ``sync --json``); as any dbt command, the parse
keeps its partial-parsing state in the project's target path, and writes no manifest.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spotify_audiences.errors import ConfigError
from spotify_audiences.warehouse import (
    MART,
    REJECTS,
    SUMMARY,
    DbtTarget,
    MartRelations,
    Relation,
    find_profiles_dir,
    load_dbt_target,
    read_profile_name,
)

PACKAGE = "spotify_audiences"
# The input columns of a members relation (and of a suppression list) after audience_name, all
# optional text; the same list as the dbt macro input_columns() (macros/input_columns.sql).
INPUT_COLUMNS = (
    "email",
    "phone",
    "phone_country",
    "device_id",
    "email_sha256",
    "phone_sha256",
    "device_id_sha256",
)
MEMBER_COLUMNS = ("audience_name", *INPUT_COLUMNS)


@dataclass(frozen=True)
class DbtProject:
    """A dbt project resolved for one target."""

    project_dir: Path
    profiles_dir: Path
    profile_name: str
    target: DbtTarget
    marts: MartRelations


def resolve_project(
    project_dir: Path, profiles_dir: Path | None = None, target: str | None = None
) -> DbtProject:
    """The profile, the target and the marts' relations of ``project_dir``, as dbt sees them."""
    profile_name = read_profile_name(project_dir)
    directory = find_profiles_dir(project_dir, profiles_dir)
    found = load_dbt_target(project_dir, directory, target, profile_name=profile_name)
    marts = mart_relations(project_dir, directory, found.name)
    return DbtProject(
        project_dir=project_dir,
        profiles_dir=directory,
        profile_name=profile_name,
        target=found,
        marts=marts,
    )


def mart_relations(project_dir: Path, profiles_dir: Path, target: str) -> MartRelations:
    """Run ``dbt parse`` and read the database, schema and alias of the three marts."""
    manifest = parse(project_dir, profiles_dir, target)
    found = {}
    for model in (MART, REJECTS, SUMMARY):
        node = manifest.nodes.get(f"model.{PACKAGE}.{model}")
        if node is None or not node.config.enabled:
            raise ConfigError(
                f"The project in {project_dir} has no model {PACKAGE}.{model}: add the "
                f"{PACKAGE} package to its packages.yml and run `dbt deps`."
            )
        found[model] = Relation(node.database or None, node.schema, node.alias or model)
    return MartRelations(identifiers=found[MART], rejects=found[REJECTS], summary=found[SUMMARY])


def dbt_args(
    command: str,
    project_dir: Path,
    profiles_dir: Path,
    target: str,
    *,
    target_path: Path | None = None,
    log_path: Path | None = None,
    dbt_vars: str | None = None,
) -> list[str]:
    """The arguments after ``dbt`` of one dbt command on a project and target.

    ``dbt_vars`` is the YAML (or JSON) text of ``--vars``; ``target_path`` and ``log_path``
    keep a run's compiled SQL and logs apart from the project's own.
    """
    args = [
        command,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(profiles_dir),
        "--target",
        target,
    ]
    if target_path is not None:
        args += ["--target-path", str(target_path)]
    if log_path is not None:
        args += ["--log-path", str(log_path)]
    if dbt_vars:
        args += ["--vars", dbt_vars]
    return args


def parse(project_dir: Path, profiles_dir: Path, target: str) -> Any:
    """The manifest of ``dbt parse`` on ``target``; dbt's errors become one ConfigError."""
    from dbt.cli.main import dbtRunner

    errors: list[str] = []

    def collect(event: Any) -> None:
        if event.info.level == "error" and event.info.msg:
            errors.append(" ".join(str(event.info.msg).split()))

    result = dbtRunner(callbacks=[collect]).invoke(
        [
            *dbt_args("parse", project_dir, profiles_dir, target),
            "--log-level",
            "none",
            "--log-level-file",
            "none",
            "--no-write-json",
            "--no-send-anonymous-usage-stats",
        ]
    )
    if not result.success or result.result is None:
        detail = "; ".join(errors) or " ".join(str(result.exception or "").split())
        raise ConfigError(
            f"`dbt parse` of {project_dir} (target {target!r}) failed: {detail or 'see dbt parse'}"
        )
    return result.result
