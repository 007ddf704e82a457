"""The user's dbt project as dbt resolves it: profile, target, and where the marts were built.

The sync reads the marts where dbt built them. That place depends on the project's
``profile:``, the target (``--target``, else the profile's default), and the project's own
configuration: custom schemas (``+schema:`` and the project's ``generate_schema_name``),
databases and aliases, which ``--vars`` and environment variables can change from one dbt
command to the next. Rather than re-implement any of that, :func:`resolve_project` reads the
three marts' nodes from dbt's own manifest:

1. The artifacts of the last dbt command, ``run_results.json`` and ``manifest.json`` in the
   project's target path (:func:`artifact_mart_relations`), when they belong to one invocation
   on this very target, adapter, project and profiles directory. The sync then reads the marts
   where the last dbt command on that target built them, which is also more correct than a
   fresh parse when that build used ``--vars`` or environment variables that moved them, and
   it costs two JSON reads instead of a parse (seconds).
2. Otherwise (no build yet, artifacts of another target, a later ``dbt parse`` or ``dbt ls``
   that rewrote the manifest alone), ``dbt parse`` in this process (:func:`mart_relations`).
   dbt's output is silenced (it would corrupt ``sync --json``); as any dbt command, the parse
   keeps its partial-parsing state in the project's target path, and writes no manifest.json.
"""

from __future__ import annotations

import json
import logging
import os
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
    _dbt_context,
    find_profiles_dir,
    load_dbt_target,
    read_profile_name,
)

log = logging.getLogger(__name__)

PACKAGE = "spotify_audiences"
MART_MODELS = (MART, REJECTS, SUMMARY)
DEFAULT_TARGET_PATH = "target"
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
    """The profile, the target and the marts' relations of ``project_dir``, as dbt sees them.

    The marts' relations come from the last dbt command's artifacts when they can be trusted
    (:func:`artifact_mart_relations`), else from ``dbt parse`` (:func:`mart_relations`).
    """
    profile_name = read_profile_name(project_dir)
    directory = find_profiles_dir(project_dir, profiles_dir)
    found = load_dbt_target(project_dir, directory, target, profile_name=profile_name)
    marts = artifact_mart_relations(
        project_dir, directory, found, default_target=found.name if target is None else None
    )
    if marts is None:
        log.debug("mart locations: running dbt parse on target %r", found.name)
        marts = mart_relations(project_dir, directory, found.name)
    return DbtProject(
        project_dir=project_dir,
        profiles_dir=directory,
        profile_name=profile_name,
        target=found,
        marts=marts,
    )


def dbt_target_path(project_dir: Path) -> Path:
    """Where dbt writes the project's artifacts when no ``--target-path`` is given.

    ``DBT_TARGET_PATH``, else the ``target-path:`` of dbt_project.yml (rendered by dbt,
    ``env_var()`` and all), else ``target``; a relative path is relative to the project
    directory, as dbt has it. Raises ConfigError when dbt_project.yml cannot be read.
    """
    configured = os.environ.get("DBT_TARGET_PATH") or _project_target_path(project_dir)
    return project_dir / (configured or DEFAULT_TARGET_PATH)


def _project_target_path(project_dir: Path) -> str | None:
    from dbt.config.project import PartialProject
    from dbt.config.renderer import DbtProjectYamlRenderer
    from dbt.exceptions import DbtProjectError, DbtRuntimeError

    _dbt_context()
    try:
        partial = PartialProject.from_project_root(str(project_dir), verify_version=False)
        raw = partial.project_dict.get("target-path")
        rendered = DbtProjectYamlRenderer(None, {}).render_value(raw) if raw else None
    except (DbtProjectError, DbtRuntimeError) as exc:
        message = " ".join(str(exc).split())
        raise ConfigError(f"{project_dir / 'dbt_project.yml'}: {message}") from None
    return str(rendered) if rendered else None


def artifact_mart_relations(
    project_dir: Path,
    profiles_dir: Path,
    target: DbtTarget,
    *,
    default_target: str | None = None,
) -> MartRelations | None:
    """The marts' relations as the last dbt command on ``target`` recorded them, or None.

    Reads ``run_results.json`` and ``manifest.json`` in the project's target path
    (:func:`dbt_target_path`) and trusts them only when all of these hold: both are JSON
    objects of the same invocation (``metadata.invocation_id``); that invocation ran on
    ``target`` (``args.target``, or the profile's default target when it names none;
    ``default_target`` is that default when the caller knows it); the manifest's adapter is
    the target's type; the three marts are enabled models of the package; a mart whose
    database dbt did not configure is in the target's database (a DuckDB database is its file:
    artifacts of another file are not these marts'); and the invocation's ``project_dir`` and
    ``profiles_dir``, when recorded, are ``project_dir`` and ``profiles_dir``. None (the
    caller runs ``dbt parse``) otherwise, with the reason in the debug log.
    """
    try:
        path = dbt_target_path(project_dir)
    except ConfigError as exc:
        log.debug("mart locations: no artifacts (%s)", exc)
        return None
    run_results = _json_object(path / "run_results.json")
    manifest = _json_object(path / "manifest.json")
    reason = _untrusted(
        run_results, manifest, project_dir, profiles_dir, target, default_target=default_target
    )
    if reason is not None:
        log.debug("mart locations: not from the artifacts in %s: %s", path, reason)
        return None
    assert manifest is not None
    nodes = manifest["nodes"]
    found = {}
    for model in MART_MODELS:
        node = nodes[f"model.{PACKAGE}.{model}"]
        found[model] = Relation(
            node.get("database") or None, str(node["schema"]), node.get("alias") or model
        )
    log.debug(
        "mart locations: from the artifacts of dbt invocation %s in %s",
        manifest["metadata"]["invocation_id"],
        path,
    )
    return MartRelations(identifiers=found[MART], rejects=found[REJECTS], summary=found[SUMMARY])


def _json_object(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as fh:
            value = json.load(fh)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _mapping(value: Any, key: str) -> dict[str, Any]:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, dict) else {}


def _untrusted(
    run_results: dict[str, Any] | None,
    manifest: dict[str, Any] | None,
    project_dir: Path,
    profiles_dir: Path,
    target: DbtTarget,
    *,
    default_target: str | None,
) -> str | None:
    """Why the artifacts cannot say where the marts are; None when they can."""
    if run_results is None or manifest is None:
        return "no readable run_results.json and manifest.json"
    invocation = _mapping(run_results, "metadata").get("invocation_id")
    if not invocation or invocation != _mapping(manifest, "metadata").get("invocation_id"):
        return "run_results.json and manifest.json are of different dbt invocations"
    args = _mapping(run_results, "args")
    built_on = args.get("target")
    if not built_on:
        if default_target is None:
            try:
                default_target = load_dbt_target(
                    project_dir, profiles_dir, None, profile_name=target.profile_name or None
                ).name
            except ConfigError:
                return "the profile's default target cannot be resolved"
        built_on = default_target
    if built_on != target.name:
        return f"the last dbt invocation ran on target {built_on!r}"
    if _mapping(manifest, "metadata").get("adapter_type") != target.type:
        return f"the manifest is not of a {target.type} target"
    for key, ours in (("project_dir", project_dir), ("profiles_dir", profiles_dir)):
        recorded = args.get(key)
        if recorded and not _same_directory(Path(str(recorded)), ours):
            return f"the last dbt invocation used another {key}"
    nodes = _mapping(manifest, "nodes")
    database = getattr(target.credentials, "database", None)
    for model in MART_MODELS:
        node = nodes.get(f"model.{PACKAGE}.{model}")
        if not isinstance(node, dict) or _mapping(node, "config").get("enabled") is not True:
            return f"the manifest has no enabled model {PACKAGE}.{model}"
        if not node.get("schema"):
            return f"the manifest gives {PACKAGE}.{model} no schema"
        configured = _mapping(node, "config").get("database")
        if not configured and database and node.get("database") != database:
            return f"{PACKAGE}.{model} was built in another database than the target's"
    return None


def _same_directory(recorded: Path, ours: Path) -> bool:
    # A relative directory was relative to where dbt ran, which the artifacts do not record;
    # the working directory is the likely one, and a wrong guess only costs a parse.
    try:
        return recorded.resolve() == ours.resolve()
    except OSError:
        return False


def mart_relations(project_dir: Path, profiles_dir: Path, target: str) -> MartRelations:
    """Run ``dbt parse`` and read the database, schema and alias of the three marts."""
    manifest = parse(project_dir, profiles_dir, target)
    found = {}
    for model in MART_MODELS:
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
