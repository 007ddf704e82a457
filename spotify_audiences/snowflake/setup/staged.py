"""The files `snowflake-setup` stages and the dbt macros it renders, from the installed package.

Nothing here reads the user's dbt project: a ``pip install`` user runs the setup from a project
of their own, which has neither ``macros/`` nor ``python_udfs/`` of this package. The wheel
ships the package's dbt macros as package data (``spotify_audiences/macros``); a source
checkout (an editable install) has them at the top of the repository.

Three files are staged:

- ``phone_numbers.py``: the phone UDF's handler (``spotify_audiences.udfs.phone_numbers``);
- ``phonenumbers-<version>.zip``: the installed ``phonenumbers``, which must be the version the
  SQL fast path was generated from (the header of ``phone_fast_path_rules.sql``), so the UDF
  answers exactly as DuckDB does. It is pure Python, so an ``IMPORTS`` zip works in every
  account and no unpinned ``PACKAGES`` entry decides the version;
- ``spotify_audiences.zip``: this package but this setup subpackage, imported by the sync
  procedure.

Every zip is built with fixed timestamps and modes in sorted order: the same input gives the
same bytes.
"""

from __future__ import annotations

import importlib.metadata
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from spotify_audiences.errors import ConfigError

DDL_MACROS = Path("snowflake") / "spotify_audiences_ddl.sql"
RULES_MACRO = Path("phone_fast_path_rules.sql")
CODE_ZIP = "spotify_audiences.zip"
PHONE_HANDLER = "phone_numbers.py"
# Only what parse / is_valid_number / format_number import; the geocoder, carrier and time zone
# data (about 20 MB) are not needed by the UDF.
_PHONENUMBERS_SKIPPED = ("geodata", "carrierdata", "tzdata")
_PHONENUMBERS_SKIPPED_MODULES = ("geocoder.py", "carrier.py", "timezone.py")
_RULES_VERSION = re.compile(r'"phonenumbers_version":\s*"([^"]+)"')
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def macros_dir() -> Path:
    """The package's dbt macros: package data in a wheel, the checkout's ``macros/`` otherwise."""
    import spotify_audiences

    package = Path(spotify_audiences.__file__).resolve().parent
    for candidate in (package / "macros", package.parent / "macros"):
        if (candidate / DDL_MACROS).is_file():
            return candidate
    raise ConfigError(
        "The installed spotify-audiences has no dbt macros (macros/snowflake/"
        "spotify_audiences_ddl.sql); reinstall the package."
    )


def ddl_macros_source() -> str:
    """The text of ``macros/snowflake/spotify_audiences_ddl.sql`` as installed."""
    return (macros_dir() / DDL_MACROS).read_text(encoding="utf-8")


def rules_phonenumbers_version() -> str:
    """The phonenumbers version the SQL fast path's rules were generated from."""
    text = (macros_dir() / RULES_MACRO).read_text(encoding="utf-8")
    found = _RULES_VERSION.search(text)
    if not found:
        raise ConfigError(f"{RULES_MACRO} names no phonenumbers_version; regenerate it.")
    return found.group(1)


def installed_phonenumbers_version() -> str:
    """The version of the ``phonenumbers`` distribution installed next to this package."""
    return importlib.metadata.version("phonenumbers")


def pinned_phonenumbers_version() -> str:
    """The installed phonenumbers version, refused when it differs from the fast path's rules."""
    installed, rules = installed_phonenumbers_version(), rules_phonenumbers_version()
    if installed != rules:
        raise ConfigError(
            f"phonenumbers {installed} is installed, but the SQL fast path was generated from "
            f"{rules}: the Snowflake UDF would answer differently from the SQL. Install "
            f"phonenumbers=={rules} (pip install -c constraints.txt)."
        )
    return installed


def phonenumbers_zip_name(version: str) -> str:
    """The staged file name, which carries the version the UDF runs."""
    return f"phonenumbers-{version}.zip"


def phone_handler_file() -> Path:
    """The UDF handler as installed (``spotify_audiences.udfs.phone_numbers``)."""
    from spotify_audiences.udfs import phone_numbers

    return Path(phone_numbers.__file__).resolve()


def _write_zip(target: Path, members: Iterable[tuple[str, Path]]) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return target


def build_code_zip(directory: Path) -> Path:
    """Zip the ``spotify_audiences`` package for the procedure's IMPORTS (same bytes each time).

    This setup subpackage stays out: the procedure never imports the admin tooling.
    """
    import spotify_audiences

    package = Path(spotify_audiences.__file__).resolve().parent
    setup = Path(__file__).resolve().parent
    members = [
        (p.relative_to(package.parent).as_posix(), p)
        for p in package.rglob("*.py")
        if not p.is_relative_to(setup)
    ]
    return _write_zip(directory / CODE_ZIP, members)


def build_phonenumbers_zip(directory: Path) -> Path:
    """Zip the installed phonenumbers (its modules, metadata and license) for the UDF's IMPORTS."""
    version = pinned_phonenumbers_version()
    distribution = importlib.metadata.distribution("phonenumbers")
    members = []
    for file in distribution.files or ():
        name = file.as_posix()
        parts = name.split("/")
        if parts[0] == "phonenumbers":
            if not name.endswith(".py") or "__pycache__" in parts:
                continue
            if parts[1] in _PHONENUMBERS_SKIPPED or name in (
                f"phonenumbers/{m}" for m in _PHONENUMBERS_SKIPPED_MODULES
            ):
                continue
        elif not (parts[0].endswith(".dist-info") and parts[-1] in ("METADATA", "LICENSE")):
            continue
        members.append((name, Path(str(distribution.locate_file(file)))))
    if not any(name == "phonenumbers/__init__.py" for name, _ in members):
        raise ConfigError("The installed phonenumbers has no files to stage; reinstall it.")
    return _write_zip(directory / phonenumbers_zip_name(version), members)
