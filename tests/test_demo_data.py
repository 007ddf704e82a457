"""The committed demo members file is exactly what its generator writes."""

import importlib.util
import random
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
GENERATOR = REPO / "scripts" / "generate_demo_members.py"
COMMITTED = REPO / "data" / "demo_audience_members.csv"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_demo_members", GENERATOR)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    return generator


def test_regenerating_gives_the_committed_file_byte_for_byte(tmp_path: Path) -> None:
    output = tmp_path / "demo_audience_members.csv"
    # The generator also asserts every audience has at least 1,000 valid distinct identifiers.
    subprocess.run(
        [sys.executable, str(GENERATOR), "--output", str(output)],
        check=True,
        capture_output=True,
    )
    assert output.read_bytes() == COMMITTED.read_bytes()


def test_every_audience_has_enough_valid_distinct_identifiers() -> None:
    generator = load_generator()
    stats = generator.expected_stats(generator.generate_rows())
    assert set(stats) == set(generator.AUDIENCES)
    for audience, audience_stats in stats.items():
        distinct = sum(len(hashes) for hashes in audience_stats.distinct_hashes.values())
        assert distinct >= generator.MIN_DISTINCT_IDENTIFIERS, audience


def test_every_phone_layout_reads_back_as_its_e164_in_its_country() -> None:
    # Guards the fictional ranges against phonenumbers metadata updates.
    generator = load_generator()
    rng = random.Random(0)
    for maker, _weight in generator.PHONE_MAKERS:
        for _ in range(50):
            country, e164, layouts = maker(rng)
            for layout in layouts:
                assert generator.normalize_phone(generator.Phone(layout, country)) == e164, layout
