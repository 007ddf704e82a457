"""The input column list has one home per language (macros/input_columns.sql,
spotify_audiences.project.INPUT_COLUMNS), and both hold the same list."""

from __future__ import annotations

import ast
import re

from support import ROOT

from spotify_audiences.project import INPUT_COLUMNS, MEMBER_COLUMNS


def _macro_list(name: str) -> list[str]:
    """The list literal a macro of macros/input_columns.sql returns."""
    text = (ROOT / "macros" / "input_columns.sql").read_text(encoding="utf-8")
    found = re.search(
        r"{%\s*macro " + name + r"\(\)\s*-?%}\s*{{\s*return\((\[.*?\])\)\s*}}", text, re.S
    )
    assert found, f"macro {name}() returns no list literal"
    return ast.literal_eval(found.group(1))


def test_python_and_sql_list_the_same_input_columns():
    assert list(INPUT_COLUMNS) == _macro_list("input_columns")
    assert MEMBER_COLUMNS[0] == "audience_name"
    assert MEMBER_COLUMNS[1:] == INPUT_COLUMNS
