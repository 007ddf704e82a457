"""`make bench` keeps working: a quick run of scripts/bench.py end to end.

The bench's figures are not checked (speed is measured, not asserted); what is checked is that
every stage runs, that the naive pipeline's files equal the sync's byte for byte, and that the
tables the performance docs quote are printed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import ROOT


def test_quick_bench_runs_every_stage_and_files_match(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--workdir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "files byte-identical to the pipeline's" in out
    for heading in (
        "per stage (one dbt build, medians of the syncs)",
        "floor (each step alone, at its best)",
        "best possible end to end vs naive",
        "targets:",
    ):
        assert heading in out
    assert "20,000 inputs, 0 disagreements with phonenumbers" in out
    # the naive pipeline wrote one file per audience, each equal to the dry run's
    naive = sorted(p.name for p in (tmp_path / "naive").glob("*.csv"))
    assert naive and naive == sorted(p.name for p in (tmp_path / "dry-run").glob("*.csv"))
