"""The regular expressions of the macros mean the same on DuckDB (RE2) and on Snowflake (POSIX ERE).

Snowflake documents its regular expressions as POSIX extended (plus a few Perl escapes such as
``\\d`` outside brackets). In POSIX a backslash inside a bracket expression is a literal
backslash, so ``[^@\\s]`` excludes ``@``, ``\\`` and ``s``; RE2 reads the same text as "not @ and
not whitespace". fakesnow runs Snowflake SQL on DuckDB, so it cannot show the difference.

Two checks stand in for a real account:

- every pattern the Snowflake target compiles (the whole project, as dbt-snowflake renders it)
  has no backslash inside a bracket expression, so no bracket depends on the dialect;
- the email test is evaluated on a table of edge cases twice: as DuckDB runs the DuckDB
  rendering, and with the Snowflake rendering's ``regexp_like`` decided by glibc's POSIX ERE
  engine (``regcomp(REG_EXTENDED)``, a conforming POSIX implementation; ``regexp_like`` anchors
  at both ends, as Snowflake's does). Only whole-value match/no-match is compared, where POSIX
  leftmost-longest and RE2 leftmost-first cannot differ.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import locale
import re
from pathlib import Path

import duckdb
import pytest
from snowflake_helpers import dbt_on_fakesnow
from support import compile_inline

REG_EXTENDED = 1
REG_NOSUB = 8
# a Snowflake single-quoted literal: backslash escapes the next character
_LITERAL = r"'((?:[^'\\]|\\.)*)'"
_REGEX_CALL = re.compile(
    r"\b(regexp_like|regexp_replace|regexp_substr|regexp_instr|regexp_count|rlike)\s*\("
    r"[^']*?,\s*" + _LITERAL,
    re.IGNORECASE,
)

EDGE_CASES = [
    "anna.s@example.com",
    "s@s.se",
    "user+tag@mail.example.co.uk",
    "first.last@sub-domain.example",
    "a@b.c",
    "a@b",
    "a@@b.com",
    "a@b..com",
    "a@.b.com",
    "a@b.com.",
    "@b.com",
    "a@",
    "",
    "no-at-sign.example.com",
    "a b@c.com",
    "a@b.c\tom",
    "a\u00a0b@c.com",
    "a\u2003b@c.com",
    "a\u200bb@c.com",
    "a\ufeffb@c.com",
    "back\\slash@example.com",
    "quote'@example.com",
    "brackets[]@example.com",
    "åsa@exempel.se",
    "用户@例子.中国",
    "x@y.z\n",
    "dots.in.local@x.y",
]


class PosixRegex:
    """glibc's POSIX regcomp/regexec through ctypes, in a UTF-8 locale."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("c")
        if name is None:
            pytest.skip("no C library with POSIX regex here")
        self._libc = ctypes.CDLL(name)
        locale.setlocale(locale.LC_CTYPE, "C.UTF-8")

    def full_match(self, pattern: str, value: str) -> bool:
        compiled = ctypes.create_string_buffer(1024)  # larger than any regex_t
        code = self._libc.regcomp(compiled, f"^({pattern})$".encode(), REG_EXTENDED | REG_NOSUB)
        assert code == 0, f"POSIX ERE refuses {pattern!r} (regcomp error {code})"
        try:
            return self._libc.regexec(compiled, value.encode(), 0, None, 0) == 0
        finally:
            self._libc.regfree(compiled)


def _unescape(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal, flags=re.DOTALL)


def _brackets_with_backslash(pattern: str) -> list[str]:
    """Every POSIX bracket expression of ``pattern`` that holds a backslash."""
    found, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char != "[":
            i += 1
            continue
        start, i = i, i + 1
        if i < len(pattern) and pattern[i] == "^":
            i += 1
        if i < len(pattern) and pattern[i] == "]":
            i += 1
        while i < len(pattern) and pattern[i] != "]":
            if pattern[i] == "[" and i + 1 < len(pattern) and pattern[i + 1] in ":.=":
                i = pattern.index(pattern[i + 1] + "]", i + 2) + 2
                continue
            i += 1
        bracket = pattern[start : i + 1]
        if "\\" in bracket:
            found.append(bracket)
        i += 1
    return found


def _compile_inline(sql: str, workdir: Path, *, fakesnow=None) -> str:
    if fakesnow is None:
        return compile_inline(sql, workdir)
    result = dbt_on_fakesnow(fakesnow, workdir, "compile", "--quiet", "--inline", sql)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout.strip()


def test_posix_engine_reads_a_backslash_in_brackets_literally():
    """The defect being fixed: under POSIX, [^@\\s] refuses every address with an 's'."""
    posix = PosixRegex()
    old = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"
    assert not posix.full_match(old, "anna.s@example.com")
    assert posix.full_match(old, "anna.t@example.com")
    assert (
        duckdb.connect()
        .execute(f"select regexp_full_match('anna.s@example.com', '{old}')")
        .fetchone()[0]
    )


def test_no_snowflake_pattern_has_an_escape_inside_brackets(fakesnow_build):
    assert fakesnow_build.returncode == 0, fakesnow_build.stdout[-3000:]
    compiled = list((fakesnow_build.workdir / "target" / "compiled").rglob("*.sql"))
    patterns = {
        _unescape(m.group(2))
        for path in compiled
        for m in _REGEX_CALL.finditer(path.read_text(encoding="utf-8"))
    }
    assert len(patterns) >= 5, "the models' patterns were not found in the compiled SQL"
    offending = {p: _brackets_with_backslash(p) for p in patterns if _brackets_with_backslash(p)}
    assert offending == {}


def test_email_validity_is_the_same_on_duckdb_and_under_posix_semantics(fakesnow, tmp_path):
    posix = PosixRegex()
    inline = "select {{ spotify_audiences.is_valid_email('x') }} as ok"
    duck_sql = _compile_inline(inline, tmp_path / "duck")
    snow_sql = _compile_inline(inline, tmp_path / "snow", fakesnow=fakesnow)
    (call,) = re.findall(r"regexp_like\(x, " + _LITERAL + r"\)", snow_sql)
    pattern = _unescape(call)
    assert _brackets_with_backslash(pattern) == []

    connection = duckdb.connect()
    differ = []
    for value in EDGE_CASES:
        on_duckdb = connection.execute(f"{duck_sql} from (select ? as x)", [value]).fetchone()[0]
        # the Snowflake expression with regexp_like decided by the POSIX engine; the rest
        # (translate, chr, length) means the same in both engines
        decided = "true" if posix.full_match(pattern, value) else "false"
        snowflake_sql = re.sub(r"regexp_like\(x, " + _LITERAL + r"\)", decided, snow_sql)
        on_snowflake = connection.execute(
            f"{snowflake_sql} from (select ? as x)", [value]
        ).fetchone()[0]
        if bool(on_duckdb) != bool(on_snowflake):
            differ.append((value, on_duckdb, on_snowflake))
    assert differ == []
    valid = {
        v
        for v in EDGE_CASES
        if connection.execute(f"{duck_sql} from (select ? as x)", [v]).fetchone()[0]
    }
    assert {"anna.s@example.com", "s@s.se", "a@b.c", "åsa@exempel.se"} <= valid
    assert not {"a@b", "a b@c.com", "a\u00a0b@c.com", "a@b..com", "x@y.z\n"} & valid
