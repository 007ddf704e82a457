"""Every command and every sync option is documented in the README or in docs/."""

from __future__ import annotations

import pytest
from support import ROOT

from spotify_audiences.cli import main

README = "\n".join(
    path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
)


@pytest.mark.parametrize("name", sorted(main.commands))
def test_command_is_in_the_readme(name):
    assert f"spotify-audiences {name}" in README


@pytest.mark.parametrize(
    "option",
    sorted(
        opt
        for param in main.commands["sync"].params
        for opt in param.opts
        if opt.startswith("--") and opt not in ("--help",)
    ),
)
def test_sync_option_is_in_the_readme(option):
    assert f"`{option}" in README
