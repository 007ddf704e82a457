"""``make bench``: the pipeline's throughput and memory on N synthetic members, with targets.

Generates N members (``scripts/bench_members.py``), then times, in the same run and on the
same input, each stage as its own process (wall seconds and peak RSS of that process):

- ``dbt build`` on the local DuckDB target (models, data tests, unit tests);
- ``spotify-audiences sync --dry-run`` (stream the mart into the upload files);
- ``spotify-audiences sync`` to the Spotify Ads sandbox over loopback (export and upload);
- the naive baseline (``scripts/bench_naive.py``: per-row phonenumbers, hashlib, csv.writer),
  whose files must equal the dry run's byte for byte;

and two micro-benchmarks on the same strings: phone normalization (the model's fast path and
UDF fallback over the distinct numbers, against per-row phonenumbers) and email normalization
with hashing (the model's expressions, against DuckDB's plain ``sha256``). Medians of
``--repeats`` runs. Last, the phone property test at ``--property-inputs`` inputs (zero
disagreements with phonenumbers, or the bench fails).

Usage: ``python scripts/bench.py --members 1000000`` (``make bench N=...``); ``--quick`` for a
small run in under a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

# The email rules of int_audience_identifiers_unpivoted (trim) and _normalized (lower-case,
# validate, hash) over a table of raw emails; dbt compiles it with the project's own macros.
EMAIL_SELECT = """
select case
    when {{ is_valid_visible_email('value') }} then {{ sha256_hex('value') }}
end
from (select lower({{ trim_whitespace('email') }}) as value from emails) as normalized
"""
# Targets of the issue this bench measures.
TARGET_END_TO_END = 10.0
TARGET_PHONES = 10.0
TARGET_EMAILS = 2.0
TARGET_SYNC_RSS_MB = 500.0
TARGET_BUILD_RSS_MB = 2048.0


@dataclass
class Run:
    """One measured process."""

    seconds: float
    peak_rss_mb: float
    stdout: str = ""
    cpu_seconds: float = float("nan")
    load: float = float("nan")


@dataclass
class Stage:
    """Every run of one stage; figures are medians."""

    name: str
    rows: int
    runs: list[Run] = field(default_factory=list)
    note: str = ""

    @property
    def seconds(self) -> float:
        return statistics.median(run.seconds for run in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return max(run.peak_rss_mb for run in self.runs) if self.runs else 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def measure(args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> Run:
    """Run a command to completion: its wall seconds, peak RSS (from wait4) and output."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            args, cwd=cwd, env={**os.environ, **(env or {})}, stdout=output, stderr=output
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        stdout = output.read()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed ({process.returncode}):\n{stdout[-4000:]}")
    # ru_maxrss is in KiB on Linux; the load is the 1-minute average when the process started
    return Run(
        seconds=seconds,
        peak_rss_mb=usage.ru_maxrss / 1024,
        stdout=stdout,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        load=load,
    )


def machine() -> str:
    """CPU, cores, memory, OS and the versions that matter."""
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GiB RAM"
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("duckdb", "dbt-core", "dbt-duckdb", "phonenumbers")
    )
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, {versions}"
    )


class Bench:
    """The stages of one bench run in a work directory."""

    def __init__(self, workdir: Path, members: int, repeats: int) -> None:
        self.workdir = workdir
        self.members = members
        self.repeats = repeats
        self.csv = workdir / "members.csv"
        self.database = workdir / "audiences.duckdb"
        self.stages: list[Stage] = []
        self.notes: list[str] = []
        self.dbt_stages: list[tuple[str, float, str]] = []

    def stage(self, name: str, rows: int, note: str = "") -> Stage:
        found = Stage(name=name, rows=rows, note=note)
        self.stages.append(found)
        return found

    def log(self, message: str) -> None:
        print(f"  {message}", flush=True)

    def generate(self) -> None:
        stage = self.stage("generate members (not timed against targets)", self.members)
        stage.runs.append(
            measure(
                [
                    sys.executable,
                    str(ROOT / "scripts" / "bench_members.py"),
                    "--members",
                    str(self.members),
                    "--output",
                    str(self.csv),
                ]
            )
        )
        self.log(f"members: {stage.runs[0].stdout.strip()}")

    def env(self) -> dict[str, str]:
        """The build's DuckDB file and target path, shared by the build and the syncs (which
        read the marts' locations from the build's artifacts there)."""
        return {
            "SPOTIFY_AUDIENCES_DUCKDB": str(self.database),
            "DBT_TARGET_PATH": str(self.workdir / "target"),
        }

    def dbt(self, command: str, target_path: Path) -> list[str]:
        """A dbt command on the repository's project and local target, reading the members."""
        return [
            str(BIN / "dbt"),
            command,
            "--profiles-dir",
            str(ROOT),
            "--project-dir",
            str(ROOT),
            "--target",
            "local",
            "--target-path",
            str(target_path),
            "--log-path",
            str(self.workdir / "logs"),
            "--vars",
            f"{{audience_members_csv: '{self.csv}'}}",
        ]

    def dbt_build(self) -> Stage:
        stage = self.stage("dbt build (models, data and unit tests)", self.members)
        for attempt in range(self.repeats):
            for path in self.workdir.glob("audiences.duckdb*"):
                path.unlink()
            run = measure(self.dbt("build", self.workdir / "target"), env=self.env())
            stage.runs.append(run)
            self.log(f"dbt build {attempt + 1}: {run.seconds:.1f} s, {run.peak_rss_mb:.0f} MB")
        results = json.loads((self.workdir / "target" / "run_results.json").read_text())
        self.dbt_stages = dbt_stages(results, stage.runs[-1].seconds)
        models = sum(
            r["execution_time"] for r in results["results"] if r["unique_id"].startswith("model.")
        )
        stage.note = f"models alone {models:.1f} s"
        return stage

    def cli_startup(self) -> Stage:
        """The sync CLI's own start-up (imports), which every sync process pays."""
        stage = self.stage("spotify-audiences start-up (--help)", 0)
        for _ in range(self.repeats):
            stage.runs.append(measure([str(BIN / "spotify-audiences"), "--help"]))
        return stage

    def dry_run(self) -> Stage:
        out = self.workdir / "dry-run"
        stage = self.stage("sync --dry-run (export)", 0)
        for attempt in range(self.repeats):
            shutil.rmtree(out, ignore_errors=True)
            run = measure(
                [str(BIN / "spotify-audiences"), "sync", "--dry-run", str(out), "--json"],
                env=self.env(),
            )
            stage.runs.append(run)
            self.log(f"dry run {attempt + 1}: {run.seconds:.1f} s, {run.peak_rss_mb:.0f} MB")
        lines = [json.loads(line) for line in stage.runs[-1].stdout.splitlines() if line[:1] == "{"]
        stage.rows = sum(sum(line["counts"].values()) for line in lines)
        self.export_bytes = max(line["bytes"] for line in lines)
        self.audiences = len(lines)
        return stage

    def sandbox_sync(self) -> Stage:
        from spotify_ads_sandbox import Sandbox, SandboxConfig

        limit = max(1024**3, 2 * self.export_bytes)
        stage = self.stage("sync to the sandbox (export + upload)", 0)
        with (
            tempfile.TemporaryDirectory(dir=self.workdir) as data_dir,
            Sandbox(
                SandboxConfig(max_file_bytes=limit, data_dir=data_dir), host="127.0.0.1", port=0
            ) as sandbox,
        ):
            for attempt in range(self.repeats):
                run = measure(
                    [
                        str(BIN / "spotify-audiences"),
                        "sync",
                        "--target",
                        "local",
                        "--json",
                        "--max-bytes",
                        str(limit),
                        # the same set every run: upload it anyway instead of skipping
                        "--force",
                    ],
                    env={**sandbox.env(), **self.env()},
                )
                stage.runs.append(run)
                self.log(f"sync {attempt + 1}: {run.seconds:.1f} s, {run.peak_rss_mb:.0f} MB")
            lines = [json.loads(x) for x in stage.runs[-1].stdout.splitlines() if x[:1] == "{"]
            if any(line["action"] not in ("created", "replaced") for line in lines):
                raise RuntimeError(f"the sync failed: {lines}")
            stage.rows = sum(sum(line["counts"].values()) for line in lines)
            uploaded = {a["name"] for a in sandbox.list_audiences()}
            if len(uploaded) != self.audiences:
                raise RuntimeError(f"the sandbox holds {sorted(uploaded)}")
        return stage

    def naive(self, repeats: int) -> Stage:
        out = self.workdir / "naive"
        stage = self.stage("naive baseline (Python per row)", self.members)
        for attempt in range(repeats):
            shutil.rmtree(out, ignore_errors=True)
            run = measure(
                [sys.executable, str(ROOT / "scripts" / "bench_naive.py"), str(self.csv), str(out)]
            )
            stage.runs.append(run)
            self.log(f"naive {attempt + 1}: {run.seconds:.1f} s, {run.peak_rss_mb:.0f} MB")
        dry = self.workdir / "dry-run"
        names = sorted(p.name for p in out.glob("*.csv"))
        same = names == sorted(p.name for p in dry.glob("*.csv")) and all(
            _same_file(out / name, dry / name) for name in names
        )
        if not same:
            raise RuntimeError("the naive baseline's files differ from the pipeline's")
        stage.note = "files byte-identical to the pipeline's"
        return stage

    def phone_micro(self) -> tuple[Stage, Stage, float]:
        """The model's phone normalization vs per-row phonenumbers, on the same phone rows."""
        import duckdb
        from duckdb.sqltypes import VARCHAR
        from spotify_audiences.udfs.phone_numbers import normalize_phone

        compiled = next(
            (self.workdir / "target").glob("compiled/**/int_audience_phones_normalized.sql")
        )
        sql = compiled.read_text()
        sql = re.sub(r'"[^"]+"\."main"\."int_audience_identifiers_unpivoted"', "phones", sql)
        # no suppression list: an empty relation of the same shape
        sql = re.sub(
            r'"[^"]+"\."main"\."int_audience_suppressions_unpivoted"',
            "(select member_row_id as suppression_row_id, * exclude (member_row_id) "
            "from phones where false)",
            sql,
        )
        sql = sql[: sql.rindex("select * from final")]
        con = duckdb.connect()
        con.execute(f"attach '{self.database}' as built (read_only)")
        con.execute(
            "create table phones as select * from built.main.int_audience_identifiers_unpivoted "
            "where source_column = 'phone'"
        )
        con.execute("detach built")
        calls = [0]

        def counted(raw: str | None, region: str | None) -> str | None:
            calls[0] += 1
            return normalize_phone(raw, region)

        con.create_function(
            "normalize_phone",
            counted,
            [VARCHAR, VARCHAR],
            VARCHAR,
            null_handling="special",
            side_effects=False,
        )
        rows = con.execute("select count(*) from phones").fetchone()[0]
        distinct = con.execute(sql + "select count(*) from distinct_phones").fetchone()[0]  # noqa: S608
        ours = self.stage("phones: fast path + UDF over distinct (model SQL)", rows)
        for _ in range(self.repeats):
            normalize_phone.cache_clear()
            calls[0] = 0
            started = time.perf_counter()
            statement = f"create or replace temp table normalized as {sql} select * from "  # noqa: S608
            con.execute(statement + "distinct_phones_normalized")
            ours.runs.append(Run(seconds=time.perf_counter() - started, peak_rss_mb=float("nan")))
        fallback = calls[0] / distinct
        ours.note = f"{distinct:,} distinct, {fallback:.1%} of them to the UDF"
        inputs = con.execute(
            "select identifier_value, coalesce(upper(phone_country), 'US') from phones"
        ).fetchall()
        naive = self.stage("phones: per-row phonenumbers", rows)
        for _ in range(self.repeats):
            started = time.perf_counter()
            for raw, region in inputs:
                normalize_phone.__wrapped__(raw, region)
            naive.runs.append(Run(seconds=time.perf_counter() - started, peak_rss_mb=float("nan")))
        con.close()
        self.log(f"phones: {ours.seconds:.2f} s vs {naive.seconds:.2f} s per row")
        return ours, naive, fallback

    def email_micro(self) -> tuple[Stage, Stage]:
        """The model's email normalize + hash vs DuckDB's sha256, on the same strings."""
        import duckdb

        compiled = self._email_select()
        con = duckdb.connect()
        source = f"read_csv('{self.csv}', header = true, all_varchar = true)"
        con.execute(f"create table emails as select email from {source} where email is not null")  # noqa: S608
        rows = con.execute("select count(*) from emails").fetchone()[0]
        raw = self.stage("emails: DuckDB sha256(email)", rows)
        ours = self.stage("emails: trim, lower, validate, sha256 (model SQL)", rows)
        # sub-second figures: at least five runs each, interleaved, for a steadier median
        for _ in range(max(self.repeats, 5)):
            for stage, select in (
                (raw, "select sha256(email) from emails"),
                (ours, compiled),
            ):
                started = time.perf_counter()
                con.execute(f"create or replace temp table hashed as {select}")
                stage.runs.append(
                    Run(seconds=time.perf_counter() - started, peak_rss_mb=float("nan"))
                )
        con.close()
        self.log(f"emails: {ours.seconds:.2f} s vs raw sha256 {raw.seconds:.2f} s")
        return ours, raw

    def _email_select(self) -> str:
        """The models' email expressions, compiled by dbt from the project's own macros."""
        result = subprocess.run(
            [
                str(BIN / "dbt"),
                "compile",
                "--quiet",
                "--profiles-dir",
                str(ROOT),
                "--project-dir",
                str(ROOT),
                "--target-path",
                str(self.workdir / "target-inline"),
                "--log-path",
                str(self.workdir / "logs"),
                "--inline",
                EMAIL_SELECT,
            ],
            cwd=ROOT,
            env={**os.environ, "SPOTIFY_AUDIENCES_DUCKDB": str(self.workdir / "inline.duckdb")},
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    def floor(self, phones: Stage, emails: Stage) -> list[tuple[str, float, str]]:
        """What the pipeline's unavoidable steps cost alone, at their best, on this input.

        Each step is one DuckDB statement on 2 threads over what the build produced, or a
        micro-benchmark's figure: read the CSV once, the email and phone paths, SHA-256 of the
        other values, one row per audience, type and hash, and the sorted upload files written
        with ``COPY``. With the two processes' start-ups this is a floor for any dbt build +
        sync of this design: no tests, no intermediate tables, no checks of the input.
        """
        import duckdb

        # dbt's start-up and parse at its best: the fastest of three `dbt parse`, the later
        # ones with the partial-parsing state of the first (the build's artifacts stay as
        # they are: the parse writes elsewhere)
        parses = [
            measure(
                self.dbt("parse", self.workdir / "target-parse"),
                env={**self.env(), "DBT_TARGET_PATH": str(self.workdir / "target-parse")},
            ).seconds
            for _ in range(3)
        ]
        rows: list[tuple[str, float, str]] = [
            (
                "dbt start-up and parse (fastest of 3 `dbt parse`)",
                min(parses),
                f"the first, without partial parsing: {parses[0]:.2f}",
            )
        ]
        con = duckdb.connect(config={"threads": 2})
        con.execute("set enable_progress_bar = false")
        con.execute(f"attach '{self.database}' as built (read_only)")

        def timed(label: str, statement: str, note: str = "") -> None:
            runs = []
            for _ in range(max(self.repeats, 3)):
                started = time.perf_counter()
                con.execute(statement)
                runs.append(time.perf_counter() - started)
            rows.append((label, min(runs), note))

        from spotify_audiences.project import MEMBER_COLUMNS

        columns = ", ".join(f"'{c}': 'varchar'" for c in MEMBER_COLUMNS)
        timed(
            "read the CSV once (read_csv, all varchar)",
            "create or replace temp table members as select * from read_csv("  # noqa: S608 - our file
            f"'{self.csv}', header = true, auto_detect = false, delim = ',', quote = '\"', "
            f"columns = {{{columns}}})",
            f"{self.csv.stat().st_size / 1e6:,.0f} MB",
        )
        normalized = "built.main.int_audience_identifiers_normalized"
        others = (
            f"from {normalized} where is_valid and not is_prehashed and source_column != 'email'"
        )
        valid = con.execute(f"select count(*) {others}").fetchone()[0]
        rows.append(("emails: trim, lower, validate, SHA-256", emails.seconds, "micro-benchmark"))
        rows.append(("phones: fast path + UDF over distinct", phones.seconds, "micro-benchmark"))
        timed(
            "SHA-256 of the valid phones and device ids",
            f"create or replace temp table hashed as select sha256(normalized_value) {others}",
            f"{valid:,} values",
        )
        timed(
            "one row per audience, type and hash (distinct)",
            "create or replace temp table kept as select distinct audience_name, identifier_type, "  # noqa: S608
            f"identifier_sha256 from {normalized} where is_valid and not is_suppressed",
        )
        out = self.workdir / "floor-export"
        out.mkdir(exist_ok=True)
        names = [
            r[0]
            for r in con.execute(
                "select distinct audience_name from built.main.spotify_audience_identifiers"
            ).fetchall()
        ]
        statements = [
            "copy (select identifier_type as type, identifier_sha256 as value "  # noqa: S608
            "from built.main.spotify_audience_identifiers "
            f"where audience_name = '{name.replace(chr(39), chr(39) * 2)}' order by 1, 2) "
            f"to '{out / f'{index}.csv'}' (header, delimiter ',', quote '', escape '')"
            for index, name in enumerate(names)
        ]
        timed("export: sorted upload files with COPY", "; ".join(statements), "")
        con.close()
        shutil.rmtree(out, ignore_errors=True)
        return rows

    def property_test(self, inputs: int) -> dict[str, object]:
        import phone_property

        self.log(f"property test on {inputs:,} inputs")
        return phone_property.check_fast_path(self.workdir / "property", inputs)


def dbt_stages(results: dict, process_seconds: float) -> list[tuple[str, float, str]]:
    """Where one ``dbt build`` spent its time, from run_results.json and the process's wall time.

    Rows: start-up and parse (the process's wall time minus dbt's own elapsed time), each model,
    the data tests and the unit tests (sums, with the slowest), the hooks, and the rest of
    dbt's elapsed time. dbt runs two nodes at once (threads: 2), so node times may add up to
    more than the elapsed time: the last row is then negative, the overlap.
    """
    elapsed = results["elapsed_time"]
    rows: list[tuple[str, float, str]] = [
        ("dbt start-up and parse (process - elapsed)", process_seconds - elapsed, "")
    ]
    groups: dict[str, list[tuple[float, str]]] = {"test": [], "unit_test": [], "operation": []}
    for result in results["results"]:
        # model.<package>.<name>, test.<package>.<name>.<hash>, unit_test.<package>.<model>.<name>
        kind, _, *rest = result["unique_id"].split(".")
        name = (rest[0] if kind == "test" else rest[-1]) if rest else result["unique_id"]
        if kind == "model":
            rows.append((f"model {name}", result["execution_time"], result["status"]))
        else:
            groups.setdefault(kind, []).append((result["execution_time"], name))
    for kind, label in (
        ("test", "data tests"),
        ("unit_test", "unit tests"),
        ("operation", "hooks (on-run-start, on-run-end)"),
    ):
        found = sorted(groups.pop(kind, []), reverse=True)
        slowest = ", ".join(f"{name} {seconds:.1f}" for seconds, name in found[:2])
        rows.append((f"{label} ({len(found)})", sum(t for t, _ in found), f"slowest: {slowest}"))
    for kind, found in groups.items():
        rows.append((f"{kind} ({len(found)})", sum(t for t, _ in found), ""))
    accounted = sum(seconds for _, seconds, _ in rows[1:])
    rows.append(("dbt between nodes (elapsed - node times)", elapsed - accounted, "< 0: overlap"))
    return rows


def _same_file(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            chunk = fa.read(1 << 20)
            if chunk != fb.read(1 << 20):
                return False
            if not chunk:
                return True


def _table(stages: list[Stage]) -> Iterator[str]:
    yield (
        f"{'stage':<52} {'rows':>12} {'rows/s':>12} {'wall s':>9} {'cpu s':>8} {'load':>5} "
        f"{'peak RSS MB':>12}  note"
    )
    for stage in stages:
        rss = "-" if stage.peak_rss_mb != stage.peak_rss_mb else f"{stage.peak_rss_mb:,.0f}"
        cpu = statistics.median(run.cpu_seconds for run in stage.runs)
        load = statistics.median(run.load for run in stage.runs)
        yield (
            f"{stage.name:<52} {stage.rows:>12,} {stage.rows_per_second:>12,.0f} "
            f"{stage.seconds:>9.2f} {'-' if cpu != cpu else f'{cpu:.1f}':>8} "
            f"{'-' if load != load else f'{load:.1f}':>5} {rss:>12}  {stage.note}"
        )


def _floor_table(
    bench: Bench, startup: Stage, floor: list[tuple[str, float, str]], naive: Stage
) -> Iterator[str]:
    """The floor: start-ups plus each unavoidable step at its best, against the naive time."""
    rows = [
        ("sync CLI start-up", startup.seconds, ""),
        *floor,
    ]
    total = sum(seconds for _, seconds, _ in rows)
    yield ""
    yield f"{'floor (each step alone, at its best)':<60} {'seconds':>9}  note"
    for name, seconds, note in rows:
        yield f"{name[:60]:<60} {seconds:>9.2f}  {note}"
    yield f"{'sum: no tests, no intermediate tables':<60} {total:>9.2f}"
    yield (
        f"{'best possible end to end vs naive':<60} {naive.seconds / total:>8.1f}x  "
        f"(naive {naive.seconds:.1f} s; {TARGET_END_TO_END:g}x needs "
        f"{naive.seconds / TARGET_END_TO_END:.1f} s)"
    )


def _stage_table(bench: Bench, startup: Stage, dry: Stage, sync: Stage) -> Iterator[str]:
    """One row per stage of the pipeline, in the order it runs: where the time goes."""
    rows = list(bench.dbt_stages)
    rows.append(("sync: CLI start-up (spotify-audiences --help)", startup.seconds, ""))
    rows.append(
        (
            "sync --dry-run: read marts, export files",
            dry.seconds - startup.seconds,
            f"{dry.rows:,} identifiers, {bench.export_bytes / 1e6:,.0f} MB largest file",
        )
    )
    rows.append(
        ("sync: upload to the sandbox + API (sync - dry run)", sync.seconds - dry.seconds, "")
    )
    yield f"{'per stage (one dbt build, medians of the syncs)':<60} {'seconds':>9}  note"
    for name, seconds, note in rows:
        yield f"{name[:60]:<60} {seconds:>9.2f}  {note}"


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print the table, the ratios and the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    parser.add_argument(
        "--naive-repeats", type=int, help="runs of the naive baseline (default: --repeats)"
    )
    parser.add_argument(
        "--property-inputs",
        type=int,
        default=1_000_000,
        help="inputs of the phone property test (0: skip)",
    )
    parser.add_argument("--quick", action="store_true", help="20,000 members, one run each")
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.quick:
        args.members, args.repeats, args.property_inputs = 20_000, 1, 20_000
    naive_repeats = args.naive_repeats or args.repeats

    with contextlib.ExitStack() as stack:
        if args.workdir:
            workdir = args.workdir.resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        print(f"bench: {args.members:,} members, medians of {args.repeats} runs")
        print(f"machine: {machine()}", flush=True)
        bench = Bench(workdir, args.members, args.repeats)
        bench.generate()
        build = bench.dbt_build()
        startup = bench.cli_startup()
        dry = bench.dry_run()
        sync = bench.sandbox_sync()
        naive = bench.naive(naive_repeats)
        phones, phones_naive, fallback = bench.phone_micro()
        emails, emails_raw = bench.email_micro()
        floor = bench.floor(phones, emails)
        figures = bench.property_test(args.property_inputs) if args.property_inputs else None

    e2e_dry = Stage("end to end: dbt build + sync --dry-run", args.members)
    e2e_dry.runs.append(
        Run(
            seconds=build.seconds + dry.seconds, peak_rss_mb=max(build.peak_rss_mb, dry.peak_rss_mb)
        )
    )
    e2e = Stage("end to end: dbt build + sync to the sandbox", args.members)
    e2e.runs.append(
        Run(
            seconds=build.seconds + sync.seconds,
            peak_rss_mb=max(build.peak_rss_mb, sync.peak_rss_mb),
        )
    )
    bench.stages.insert(bench.stages.index(naive), e2e_dry)
    bench.stages.insert(bench.stages.index(naive), e2e)
    print()
    for line in _table(bench.stages):
        print(line)
    print()
    for line in _stage_table(bench, startup, dry, sync):
        print(line)
    for line in _floor_table(bench, startup, floor, naive):
        print(line)
    ratios = {
        "end to end (dry run) vs naive": (
            naive.seconds / e2e_dry.seconds,
            f">= {TARGET_END_TO_END:g}x",
        ),
        "end to end vs naive": (naive.seconds / e2e.seconds, f">= {TARGET_END_TO_END:g}x"),
        "phone normalization vs per-row phonenumbers": (
            phones_naive.seconds / phones.seconds,
            f">= {TARGET_PHONES:g}x",
        ),
        "email normalize + hash vs raw sha256 (time ratio)": (
            emails.seconds / emails_raw.seconds,
            f"<= {TARGET_EMAILS:g}x",
        ),
    }
    print()
    print("targets:")
    met = {
        "end to end (dry run) vs naive": ratios["end to end (dry run) vs naive"][0]
        >= TARGET_END_TO_END,
        "end to end vs naive": ratios["end to end vs naive"][0] >= TARGET_END_TO_END,
        "phone normalization vs per-row phonenumbers": ratios[
            "phone normalization vs per-row phonenumbers"
        ][0]
        >= TARGET_PHONES,
        "email normalize + hash vs raw sha256 (time ratio)": ratios[
            "email normalize + hash vs raw sha256 (time ratio)"
        ][0]
        <= TARGET_EMAILS,
    }
    cpu_build, cpu_dry, cpu_naive = (
        statistics.median(run.cpu_seconds for run in stage.runs) for stage in (build, dry, naive)
    )
    print(
        f"  {'end to end (dry run) vs naive in CPU seconds':<52} "
        f"{cpu_naive / (cpu_build + cpu_dry):>6.1f}x  (the same ratio free of the machine's "
        "other load; DuckDB's threads add up)"
    )
    for name, (value, target) in ratios.items():
        print(
            f"  {name:<52} {value:>6.1f}x  (target {target})  {'met' if met[name] else 'NOT met'}"
        )
    print(
        f"  {'dbt build peak RSS':<52} {build.peak_rss_mb:>6.0f} MB (target <= "
        f"{TARGET_BUILD_RSS_MB:g} MB at 10M members)  "
        f"{'met' if build.peak_rss_mb <= TARGET_BUILD_RSS_MB else 'NOT met'}"
    )
    sync_rss = max(dry.peak_rss_mb, sync.peak_rss_mb)
    print(
        f"  {'sync peak RSS':<52} {sync_rss:>6.0f} MB (target < {TARGET_SYNC_RSS_MB:g} MB at "
        f"10M members)  {'met' if sync_rss < TARGET_SYNC_RSS_MB else 'NOT met'}"
    )
    print(f"  phone fast path: {1 - fallback:.1%} of distinct numbers normalized in SQL")
    if figures is not None:
        wrong = figures["disagreements"]
        print(
            f"  phone property test: {figures['inputs']:,} inputs, {len(wrong)} disagreements "
            f"with phonenumbers, {figures['fast_path_share']:.1%} in SQL"
        )
        if wrong:
            print(f"  first disagreements: {wrong[:10]}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
