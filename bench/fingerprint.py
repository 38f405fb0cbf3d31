"""Fingerprints of runs, to prove a restructuring changed no number.

Runs every shipped scenario (and the benchmark fleet, shortened) in both modes for a few
replications and hashes each run's summary and tables. Save the fingerprints before a change
that must not alter results, and compare after it:

    python bench/fingerprint.py --save /tmp/before.json
    ... change the code ...
    python bench/fingerprint.py --compare /tmp/before.json

A change that alters random draws or tie-breaking is expected to differ; this tool is for the
ones that must not (moving code, renaming, new structure).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import warnings
from pathlib import Path

import simulator

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml")) + [
    ROOT / "bench" / "fleet-500.yaml", ROOT / "bench" / "faults-mix.yaml"]
# Long enough for every fault to strike, short enough to run the set in about a minute.
OVERRIDES = {"fleet-500.yaml": ["duration=2h"], "faults-mix.yaml": []}
DEFAULT_OVERRIDES = ["duration=6h"]


# Outputs added after fingerprints were first saved, left out of the hash so that fingerprints
# saved before them still compare: they are new numbers, not changed ones. Issue 16's runners
# table and fleet metrics come from the runner records alone (tests/test_scaling.py checks them).
ADDED_TABLES = frozenset({"runners"})
ADDED_METRICS = frozenset({
    "runner_hours", "runners_mean", "runners_max", "scale_out_events", "scale_in_events",
    "interruptions", "tasks_lost_to_interruptions"})


def fingerprint(result: simulator.Result) -> str:
    """A hash of everything a run reports: its summary and every table, row by row."""
    digest = hashlib.sha256()
    summary = {k: v for k, v in result.summary.items() if k not in ADDED_METRICS}
    digest.update(json.dumps(summary, sort_keys=True, default=repr).encode())
    for name, table in sorted(result.tables.items()):
        if name in ADDED_TABLES:
            continue
        digest.update(name.encode())
        digest.update(table.to_csv(index=False, float_format="%.12g").encode())
    return digest.hexdigest()[:16]


def collect(replications: int) -> tuple[dict[str, str], dict[str, str]]:
    """The fingerprints, and how each fast run ran (`Result.meta["mode"]`): a replication re-run
    exact has exact mode's numbers, so only this shows it (not in the hash, so that fingerprints
    saved before it still compare)."""
    prints: dict[str, str] = {}
    ran: dict[str, str] = {}
    for path in SCENARIOS:
        base = OVERRIDES.get(path.name, DEFAULT_OVERRIDES)
        for mode in ("exact", "fast"):
            scenario = simulator.load_scenario(path, [*base, f"simulation.mode={mode}"])
            for rep in range(replications):
                key = f"{path.stem}/{mode}/{rep}"
                result = simulator.run(scenario, replication=rep)
                prints[key] = fingerprint(result)
                if mode == "fast":
                    ran[key] = result.meta["mode"]
                print(f"{key:40s} {prints[key]}", file=sys.stderr)
    return prints, ran


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path, help="write the fingerprints to this JSON file")
    parser.add_argument("--compare", type=Path, help="compare with fingerprints saved earlier")
    parser.add_argument("-n", "--replications", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore", simulator.ScenarioWarning)  # the scenarios' own business
    prints, ran = collect(args.replications)
    for key, how in sorted(ran.items()):
        if how != "fast":
            print(f"ran {how}: {key}")
    if args.save:
        args.save.write_text(json.dumps(prints, indent=1, sort_keys=True) + "\n")
    if args.compare:
        before = json.loads(args.compare.read_text())
        differ = sorted(k for k in prints.keys() | before.keys() if prints.get(k) != before.get(k))
        for key in differ:
            print(f"differs: {key}")
        print(f"{len(prints) - len(differ)} of {len(prints)} runs identical")
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
