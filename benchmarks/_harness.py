"""What the benchmark scripts share: timing whole processes, interleaved rounds, the report.

Every contender is a separate process, timed from start to exit, with its peak memory (max RSS)
taken from ``os.wait4``. The ``bench_*.py`` scripts import this module by name: run as
``python benchmarks/bench_X.py``, Python puts their folder first on ``sys.path``.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLI = Path(sys.executable).parent / "customlabels"
PURE_ENV = "CUSTOMLABELS_PURE"
#: ru_maxrss is in KiB on Linux and in bytes on macOS.
RSS_UNIT = 1 if sys.platform == "darwin" else 1024
MIB = 1 << 20


@dataclass
class Run:
    """One finished process: wall time, peak memory, exit status, the end of its stderr, and
    its stdout when it was kept."""

    seconds: float
    max_rss: int
    status: int
    stderr: str
    stdout: str = ""


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Return this process's environment without the pure-Python switch, plus ``extra``."""
    return {**{k: v for k, v in os.environ.items() if k != PURE_ENV}, **(extra or {})}


def run_process(argv: list[str], env: dict[str, str] | None = None, *,
                keep_stdout: bool = False, show_stderr: bool = False,
                stderr_tail: int = 2000) -> Run:
    """Run ``argv``; return its wall time, max RSS, exit status and the end of its stderr.

    ``env`` None: the child inherits this process's environment as it is. stdout goes to
    /dev/null unless ``keep_stdout``; ``show_stderr`` lets stderr through to this terminal (a
    child's progress lines) instead of keeping its last ``stderr_tail`` bytes.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=out if keep_stdout else subprocess.DEVNULL,
                                stderr=None if show_stderr else err)
        _, wait_status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(wait_status)  # reaped here, not by Popen
        err.seek(0)
        stderr = err.read()[-stderr_tail:].decode("utf-8", "replace")
        out.seek(0)
        stdout = out.read().decode("utf-8", "replace")
    return Run(seconds, usage.ru_maxrss * RSS_UNIT, proc.returncode, stderr, stdout)


def rss_floor() -> int:
    """Return this process's peak RSS in bytes: no child's max RSS can read below it.

    Linux counts into a child's max RSS the pages it shares with this process before it
    executes its program, so this process must stay small while it measures.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * RSS_UNIT


def generate(script: str, output: Path, *extra: str, state: str = "missing") -> None:
    """Write ``output`` with the generator ``script`` (a file of this folder), saying so."""
    print(f"{output} is {state}: generating it", flush=True)
    subprocess.run([sys.executable, str(HERE / script), "-o", str(output), *extra], check=True)


@dataclass
class Contender:
    """A command to time, with the environment it runs in and its results so far."""

    name: str
    argv: list[str]
    extra_env: dict[str, str] = field(default_factory=dict)
    ok_status: tuple[int, ...] = (0,)
    output_dir: bool = False
    runs: list[Run] = field(default_factory=list)
    failure: str | None = None

    def command(self) -> str:
        """Return the command as a shell line, with its extra environment and redirection."""
        extra = [f"{k}={v}" for k, v in self.extra_env.items()]
        argv = self.argv + (["--output-dir", "TMPDIR"] if self.output_dir else [])
        return shlex.join(extra + argv) + " > /dev/null"

    def run(self) -> None:
        """Run the command once and record it, or record why it failed."""
        with tempfile.TemporaryDirectory(prefix="customlabels-bench-") as tmp:
            argv = self.argv + (["--output-dir", tmp] if self.output_dir else [])
            run = run_process(argv, child_env(self.extra_env))
        if run.status in self.ok_status:
            self.runs.append(run)
        else:
            self.failure = f"exit status {run.status}; stderr ends with:\n{run.stderr}"

    @property
    def seconds(self) -> list[float]:
        """Wall times of the successful runs."""
        return [r.seconds for r in self.runs]

    @property
    def peak_rss(self) -> int:
        """Largest max RSS of the runs, in bytes."""
        return max(r.max_rss for r in self.runs)


def print_setup(repeat: int, contenders: Iterable[Contender]) -> None:
    """Print the interpreter, the CPUs, the rounds and the contenders' order."""
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {repeat} rounds, "
          f"interleaved: {', '.join(c.name for c in contenders)}", flush=True)


def run_rounds(contenders: list[Contender], repeat: int) -> None:
    """Run the contenders interleaved (A, B, C, A, B, C...) for ``repeat`` rounds.

    A contender that failed is not run again; each round prints one line of times.
    """
    for i in range(repeat):
        for c in contenders:
            if c.failure is None:
                c.run()
        print(f"  round {i + 1}/{repeat}: " + ", ".join(
            f"{c.name} {c.runs[-1].seconds:.3f} s" if c.failure is None else f"{c.name} FAILED"
            for c in contenders), flush=True)


def median_ratio(numerator: Contender, denominator: Contender | None) -> float | None:
    """Median over the rounds of numerator time / denominator time of the same round."""
    if denominator is None or not numerator.runs or not denominator.runs:
        return None
    return statistics.median(a / b for a, b in zip(numerator.seconds, denominator.seconds))


def timings(c: Contender) -> dict[str, float]:
    """Return a contender's median and minimum seconds and its peak RSS in MiB (runs needed)."""
    return {"median_s": statistics.median(c.seconds), "min_s": min(c.seconds),
            "peak_rss_mib": c.peak_rss / MIB}


def print_table(results: dict[str, dict], ratio_key: str, ratio_title: str, ratio_format: str,
                name_width: int, ratio_width: int) -> None:
    """Print one row per contender: median, minimum, peak RSS and a ratio (``-`` when None).

    A result without ``median_s`` (no successful run) prints as FAILED.
    """
    print(f"\n{'contender':<{name_width}} {'median s':>9} {'min s':>8} {'peak RSS MiB':>13} "
          f"{ratio_title:>{ratio_width}}")
    for name, r in results.items():
        if "median_s" not in r:
            print(f"{name:<{name_width}} {'FAILED':>9}")
            continue
        ratio = "-" if r[ratio_key] is None else ratio_format.format(r[ratio_key])
        print(f"{name:<{name_width}} {r['median_s']:>9.3f} {r['min_s']:>8.3f} "
              f"{r['peak_rss_mib']:>13.1f} {ratio:>{ratio_width}}")


def print_commands(contenders: Iterable[Contender], header: str) -> None:
    """Print ``header`` and each contender's command line."""
    print(header)
    for c in contenders:
        print(f"  {c.name}: {c.command()}")


def report_failures(contenders: Iterable[Contender]) -> list[Contender]:
    """Print why each failed contender failed, on stderr; return them."""
    failed = [c for c in contenders if c.failure]
    for c in failed:
        print(f"\n{c.name} FAILED: {c.failure}", file=sys.stderr)
    return failed


def target(name: str, value: float, unit: str, passed: bool) -> dict:
    """Return one target's outcome as a JSON-ready dict."""
    return {"target": name, "value": value, "unit": unit, "passed": passed}


#: Flags of a headless Chromium in a container (the report's pages): no sandbox (root), no GPU,
#: nothing fetched in the background.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update"]


def chromium() -> str:
    """Return Debian's Chromium, or exit saying how to install it."""
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        sys.exit("no chromium on PATH: apt-get update && apt-get install -y chromium")
    return found


def machine() -> dict:
    """Return the interpreter's version, the platform and the CPU count, for a JSON report."""
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count()}


def write_json(path: Path, report: dict) -> None:
    """Write the report as indented JSON and say where."""
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults written to {path}")
