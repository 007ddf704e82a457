"""Hostile members files: real dbt builds that must fail with a clear message and leak nothing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from members_factory import write_members
from support import dbt_build

HEADER = b"audience_name,email,phone,phone_country,device_id\n"
GOOD = b"Winback,ana@example.org,+12125550100,US,abcdef01-2345-6789-abcd-ef0123456789\n"
# Raw values of the bad lines: none of them may show up anywhere dbt writes.
SECRETS = [
    "leaky.person",
    "4155550111",
    "11111111-2222-3333-4444-555555555555",
    "overlong.secret",
    "ragged.secret",
    "unquoted.secret",
]


def _bad_line(email: bytes, *, phone: bytes = b"+14155550111", tail: bytes = b"") -> bytes:
    return b"Winback," + email + b"," + phone + b",US,11111111-2222-3333-4444-555555555555" + tail


BAD_FILES = {
    # a Latin-1 byte inside an email: DuckDB quotes the whole line in its error
    "non_utf8": (
        HEADER + GOOD * 3 + _bad_line(b"leaky.person\xe9@example.com") + b"\n" + GOOD,
        ["line 5 (column email): not valid UTF-8"],
    ),
    # a field beyond DuckDB's maximum line size
    "over_long": (
        HEADER
        + GOOD * 2
        + _bad_line(b"overlong.secret@example.com", phone=b"4155550111" + b"9" * 3_000_000)
        + b"\n"
        + GOOD,
        ["line 4", "maximum line size"],
    ),
    "too_few_and_too_many_fields": (
        HEADER
        + GOOD
        + b"Winback,ragged.secret@example.com,+14155550111\n"
        + _bad_line(b"ragged.secret2@example.com", tail=b",extra")
        + b"\n",
        [
            "2 bad line(s)",
            "line 3 (column phone_country, device_id): fewer fields",
            "line 4: more fields",
        ],
    ),
    "unterminated_quote": (
        HEADER + GOOD + _bad_line(b'"unquoted.secret@example.com') + b"\n" + GOOD * 2,
        ["line 3", "quote"],
    ),
}


def _everything_written(build, workdir: Path) -> str:
    texts = [build.result.stdout, build.result.stderr]
    for path in workdir.rglob("*"):
        if path.is_file() and path.suffix != ".duckdb":
            texts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(texts)


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_line_is_located_without_showing_any_value(tmp_path, case):
    content, wanted = BAD_FILES[case]
    members = tmp_path / "members.csv"
    members.write_bytes(content)

    build = dbt_build(tmp_path / "build", members, check=False)

    assert build.result.returncode != 0
    output = build.result.stdout + build.result.stderr
    assert "cannot be read" in output
    for fragment in wanted:
        assert fragment in output, (fragment, output[-3000:])
    everything = _everything_written(build, tmp_path / "build")
    for secret in SECRETS:
        assert secret not in everything, f"{secret} leaked in {case}"


def test_dbt_log_file_is_readable_by_its_owner_only(tmp_path):
    members = tmp_path / "members.csv"
    members.write_bytes(BAD_FILES["non_utf8"][0])
    logs = tmp_path / "build" / "logs"
    logs.mkdir(parents=True)
    # a log left world-readable by an earlier run is tightened too
    (logs / "dbt.log").write_text("")
    (logs / "dbt.log").chmod(0o644)

    dbt_build(tmp_path / "build", members, check=False)

    assert stat.S_IMODE((logs / "dbt.log").stat().st_mode) == 0o600


def test_a_duplicated_column_is_refused_and_named(tmp_path):
    members = tmp_path / "members.csv"
    hashed = "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"
    members.write_text(
        "audience_name,email,phone,phone_country,device_id,email_sha256,Email_SHA256\n"
        f"Winback,ana@example.org,,,,{hashed},{hashed}\n"
    )

    build = dbt_build(tmp_path / "build", members, check=False)

    assert build.result.returncode != 0
    assert "duplicate column names: email_sha256 (columns 6, 7)" in build.result.stdout


def test_a_directory_is_refused(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    write_members(folder / "a.csv", seed=1, audiences={"A": 10})
    write_members(folder / "b.csv", seed=2, audiences={"B": 10})

    build = dbt_build(tmp_path / "build", folder, check=False)

    assert build.result.returncode != 0
    assert "is a directory: name one CSV file" in build.result.stdout


def test_a_glob_pattern_is_refused(tmp_path):
    write_members(tmp_path / "a.csv", seed=1, audiences={"A": 10})

    build = dbt_build(tmp_path / "build", tmp_path / "*.csv", check=False)

    assert build.result.returncode != 0
    assert "is a pattern" in build.result.stdout


def test_a_missing_file_is_named(tmp_path):
    build = dbt_build(tmp_path / "build", tmp_path / "nowhere.csv", check=False)

    assert build.result.returncode != 0
    assert "does not exist" in build.result.stdout


@pytest.mark.parametrize("region", ["U'S", "USA", "ÜS"])
def test_default_phone_region_must_be_two_letters(tmp_path, region):
    members = write_members(tmp_path / "members.csv", seed=3, audiences={"A": 10})

    build = dbt_build(
        tmp_path / "build",
        members,
        extra_vars=f'default_phone_region: "{region}"',
        check=False,
    )

    assert build.result.returncode != 0
    assert "default_phone_region must be two ASCII letters" in build.result.stdout
