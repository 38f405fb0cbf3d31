"""The benchmark history: one CSV row per figure per run, and a figure of it over commits.

bench/results/history.csv has the columns commit, date, machine, benchmark, scenario, mode,
figure, value. Each benchmark appends its figures with `append` (the whole file is rewritten
through a temporary file and a rename, so a crash never leaves half a row), and `draw` plots
bench/results/history.png: each panel one figure, each line one benchmark/scenario/mode, its
points the runs in the order they were recorded, labelled by commit.
"""

from __future__ import annotations

import csv
import io
import os
import platform
import subprocess
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from simulator.io import atomic_write_bytes, atomic_write_text

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HISTORY = HERE / "results" / "history.csv"
FIGURE = HERE / "results" / "history.png"
COLUMNS = ("commit", "date", "machine", "benchmark", "scenario", "mode", "figure", "value")


def commit() -> str:
    """The short hash of HEAD, with "+" when the simulator's code differs from it (the numbers
    then measure uncommitted code)."""
    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    try:
        head = git("rev-parse", "--short=10", "HEAD")
        dirty = git("status", "--porcelain", "--", "simulator")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+" if dirty else "")


def machine() -> str:
    """The processor model and core count: wall times compare only on the same machine."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{' '.join(model.split())} x{os.cpu_count()}"


def rows(benchmark: str, figures: Iterable[tuple[str, str, str, float]]) -> list[dict[str, str]]:
    """History rows of one run: (scenario, mode, figure, value) each, stamped now."""
    stamp = {"commit": commit(), "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "machine": machine(), "benchmark": benchmark}  # fmt: skip
    return [{**stamp, "scenario": s, "mode": m, "figure": f, "value": f"{v:.6g}"}
            for s, m, f, v in figures]  # fmt: skip


def read(path: Path = HISTORY) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def append(new: Sequence[dict[str, str]], path: Path = HISTORY) -> Path:
    """Add `new` to the history, atomically (the old rows and the new, to a temporary, renamed)."""
    old = read(path)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows([*old, *new])
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, text.getvalue())


# The figures drawn, one panel each: (benchmark prefix, figure, y label, log scale).
PANELS = (
    ("scenarios", "events_per_task", "SimPy events per task", True),
    ("scenarios", "wall_s", "wall time of one run (s)", True),
    ("scenarios", "speedup", "fast-mode speed-up (x)", False),
    ("scenarios", "events_ratio", "measured / estimated events", False),
    ("scenarios", "memory_ratio", "peak RSS growth / estimated memory", False),
    ("fast", "speedup", "fast-mode speed-up: fleet-500 day, aws-defaults week (x)", False),
    ("fast", "events_ratio", "10,000-runner week: measured / estimated events", False),
    ("fast", "memory_ratio", "10,000-runner week: RSS growth / estimated memory", False),
    ("engine", "overhead_ratio", "engine: time per event / bare SimPy's", False),
    ("engine", "overhead_per_call", "engine: time per API call / bare SimPy event's", False),
    ("sweep", "speedup", "sweep on 2 workers: speed-up (x)", False),
)


def draw(path: Path = HISTORY, target: Path = FIGURE) -> Path | None:
    """history.png: each panel's figure over the commits, one line per scenario and mode."""
    history = read(path)
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs: list[tuple[str, str]] = []  # (date, commit) in order: the x axis
    for r in history:
        if (r["date"], r["commit"]) not in runs:
            runs.append((r["date"], r["commit"]))
    runs.sort()
    x_of = {run: i for i, run in enumerate(runs)}
    panels = [p for p in PANELS if any(r["benchmark"].startswith(p[0]) and r["figure"] == p[1]
                                       for r in history)]  # fmt: skip
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3.2 * len(panels)), squeeze=False)
    for ax, (bench, figure, label, log) in zip(axes[:, 0], panels, strict=True):
        lines: dict[str, list[tuple[int, float]]] = {}
        for r in history:
            if r["benchmark"].startswith(bench) and r["figure"] == figure:
                name = f"{r['scenario']} {r['mode']}".strip()
                x = x_of[(r["date"], r["commit"])]
                lines.setdefault(name, []).append((x, float(r["value"])))
        for name, points in sorted(lines.items()):
            xs, ys = zip(*sorted(points), strict=True)
            ax.plot(xs, ys, marker="o", markersize=3, linewidth=1, label=name)
        if log:
            ax.set_yscale("log")
        if figure.endswith("_ratio"):
            ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_ylabel(label, fontsize=8)
        ax.set_xticks(range(len(runs)))
        ax.set_xticklabels([c for _, c in runs], rotation=45, ha="right", fontsize=7)
        ax.legend(fontsize=6, ncol=3, loc="best")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("commit (runs in the order recorded; + : uncommitted code)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return atomic_write_bytes(target, buffer.getvalue())
