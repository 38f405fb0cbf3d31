"""`fit_observed`: a scenario from a record of attempts (the base scenario with fitted fields
replaced), with the evidence for every fitted value; `Calibration.save` writes it atomically."""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from simulator.calibration.fit import ArrivalFit, WorkFit, finished_work, fit_arrivals, fit_work
from simulator.calibration.leases import LeaseFit, fit_leases
from simulator.calibration.observed import Observed, read_observed
from simulator.errors import VALIDATION_ERROR, LeasesimError
from simulator.io import atomic_write_text
from simulator.scenario.files import parse_yaml, read_text
from simulator.scenario.load import load_scenario_dict, scenario_to_dict
from simulator.scenario.schema import Scenario
from simulator.units import format_duration, format_rate, human_duration

ObservedLike = Observed | str | os.PathLike[str]


@dataclass
class WorkloadFit:
    name: str
    work: WorkFit
    arrivals: ArrivalFit


@dataclass
class Calibration:
    """What `leasesim fit` found: per workload the work and arrival fits, the leases, and the
    fitted scenario (`scenario`: validated; `data`: the fields written to the YAML file)."""

    observed: Observed
    workloads: list[WorkloadFit]
    leases: LeaseFit
    data: dict[str, Any]
    scenario: Scenario
    base: str | None
    applied: list[str] = field(default_factory=list)  # fitted fields written, as "path = value"
    warnings: list[str] = field(default_factory=list)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted scenario as YAML (atomically); an empirical work distribution's values
        go to `<stem>.<workload>.work.csv` beside it."""
        target = Path(path)
        data = copy.deepcopy(self.data)
        for w in data["workload"]:
            spec = w["duration"]
            if isinstance(spec, dict) and spec.get("dist") == "empirical" and spec.get("values"):
                csv_name = f"{target.stem}.{w['name']}.work.csv"
                lines = ["work_s", *(f"{v:.6g}" for v in spec["values"])]
                atomic_write_text(target.parent / csv_name, "\n".join(lines) + "\n")
                w["duration"] = {"dist": "empirical", "file": csv_name, "column": "work_s"}
        head = [
            f"# Fitted by `leasesim fit` from {self.observed.source}"
            + (f" on the base scenario {self.base}" if self.base else "")
            + ".",
            "# Fitted fields:",
        ] + [f"#   {a}" for a in self.applied]
        text = "\n".join(head) + "\n" + yaml.safe_dump(data, sort_keys=False, width=100)
        return atomic_write_text(target, text)

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per fitted quantity: name, value, interval, unit (the printed table)."""
        rows: list[dict[str, Any]] = []
        for wf in self.workloads:
            c = wf.work.chosen
            rows += [
                {
                    "quantity": f"{wf.name}: work median ({c.name})",
                    "value": c.median.value,
                    "low": c.median.low,
                    "high": c.median.high,
                    "unit": "s",
                },
                {
                    "quantity": f"{wf.name}: work p95 ({c.name})",
                    "value": c.p95.value,
                    "low": c.p95.low,
                    "high": c.p95.high,
                    "unit": "s",
                },
                {
                    "quantity": f"{wf.name}: arrival rate",
                    "value": wf.arrivals.rate.value * 3600,
                    "low": wf.arrivals.rate.low * 3600,
                    "high": wf.arrivals.rate.high * 3600,
                    "unit": "1/h",
                },
            ]
        r = self.leases.rate
        rows.append(
            {
                "quantity": "lease losses per attempt-hour",
                "value": r.value,
                "low": r.low,
                "high": r.high,
                "unit": "1/h",
            }
        )
        a = self.leases.ack_share
        rows.append(
            {
                "quantity": "ack timeouts per attempt",
                "value": a.value,
                "low": a.low,
                "high": a.high,
                "unit": "fraction",
            }
        )
        if self.leases.false_share is not None:
            f = self.leases.false_share
            rows.append(
                {
                    "quantity": "false share of lease losses",
                    "value": f.value,
                    "low": f.low,
                    "high": f.high,
                    "unit": "fraction",
                }
            )
        return rows


def _minimal(observed: Observed, workloads: list[str]) -> dict[str, Any]:
    """A scenario with leasesim's defaults and the fleet the record shows: its runners and, per
    runner, the most attempts it held at once (its threads)."""
    att = observed.attempts
    end = att["ended_at"].fillna(observed.end).to_numpy(dtype=float)
    threads = 1
    for _, rows in att.assign(_end=end).groupby("runner"):
        edges = np.concatenate(
            [
                np.c_[rows["assigned_at"], np.ones(len(rows))],
                np.c_[rows["_end"], -np.ones(len(rows))],
            ]
        )
        edges = edges[np.lexsort((edges[:, 1], edges[:, 0]))]  # ends first at a tie
        threads = max(threads, int(np.cumsum(edges[:, 1]).max()))
    runners = int(att["runner"].nunique())
    return {
        "name": "fitted",
        "description": f"Fitted by leasesim fit from {observed.source}.",
        "duration": 3600.0,
        "seed": 1,
        "replications": 5,
        "fleet": [
            {"name": "fleet", "worker_group": "workers", "runners": runners, "threads": threads}
        ],
        "workload": [
            {
                "name": name,
                "worker_group": "workers",
                "arrivals": {"kind": "poisson", "rate": 1.0},
                "duration": {"dist": "fixed", "value": 1.0},
            }
            for name in workloads
        ],
    }


def _base_data(
    base: Scenario | str | os.PathLike[str] | None,
) -> tuple[dict[str, Any] | None, str | None]:
    if base is None:
        return None, None
    if isinstance(base, Scenario):
        return scenario_to_dict(base), base.name
    path = Path(base)
    from simulator.scenario.load import load_scenario_with_source

    load_scenario_with_source(path)  # validates, errors with file and line
    # Read as the loader read it (`scalars.Loader`): plain `yaml.safe_load` takes 1e-3 for text
    # and would make the fitted scenario refuse a base the loader accepted.
    data, _ = parse_yaml(read_text(path, str(path)), str(path))
    # Empirical files are relative to the base file's folder: take the loaded values inline.
    return data, str(path)


def fit_observed(
    observed: ObservedLike,
    base: Scenario | str | os.PathLike[str] | None = None,
    *,
    faults: bool = True,
) -> Calibration:
    """Fit the record's work distribution, arrivals and leases, and build the fitted scenario.

    `base`: a scenario (file or `Scenario`) whose fields the fit replaces: each workload's
    `duration` and `arrivals` and the scenario's `duration` (the record's span); with `faults`,
    the crash rate and (when the base has pauses) the pause rate the leases imply. Without a
    base, a minimal scenario: leasesim's defaults and the fleet the record shows.
    """
    obs = observed if isinstance(observed, Observed) else read_observed(observed)
    data, base_name = _base_data(base)
    names = obs.workloads()
    if data is None:
        data = _minimal(obs, names or ["work"])
    base_workloads = [w["name"] for w in data["workload"]]
    # Which records go to which workload of the scenario.
    if names and set(names) <= set(base_workloads):
        pairs = [(n, n) for n in names]
    elif len(base_workloads) == 1:
        pairs = [(base_workloads[0], None)]
    else:
        message = (
            f"{obs.source}: the scenario has {len(base_workloads)} workloads "
            f"({', '.join(base_workloads)}) and the record "
            + (
                f"names others ({', '.join(n for n in names if n not in base_workloads)})"
                if names
                else "has no workload column"
            )
            + "; add a workload column whose values are the scenario's workload names."
        )
        raise LeasesimError(
            VALIDATION_ERROR,
            message,
            [{"field": "workload", "message": message, "file": obs.source, "line": None}],
        )
    applied: list[str] = []
    notes: list[str] = []
    fits: list[WorkloadFit] = []
    for target, name in pairs:
        part = obs.only(name)
        work = finished_work(part)
        try:
            wf = fit_work(work)
            af = fit_arrivals(part)
        except ValueError as exc:
            message = f"{obs.source}: workload {target!r}: {exc}."
            raise LeasesimError(VALIDATION_ERROR, message) from None
        fits.append(WorkloadFit(target, wf, af))
        entry = next(w for w in data["workload"] if w["name"] == target)
        entry["duration"] = wf.spec()
        entry["arrivals"] = af.spec()
        applied.append(f"workload.{target}.duration = {_show(wf.spec())}")
        applied.append(f"workload.{target}.arrivals = poisson at {entry['arrivals']['rate']}")
        notes += [f"workload {target}: {w}" for w in af.warnings]
    span = max(60.0, math.ceil(obs.span / 60.0) * 60.0)
    data["duration"] = format_duration(span)
    applied.append(f"duration = {format_duration(span)} (the record's span)")
    scenario = _validate(data, obs)
    leases = fit_leases(obs, scenario)
    if faults and leases.false_known:
        changed = _apply_faults(data, leases, applied)
        if changed:
            scenario = _validate(data, obs)
    elif not leases.false_known:
        notes += leases.notes
    return Calibration(obs, fits, leases, data, scenario, base_name, applied, notes)


def _apply_faults(data: dict[str, Any], leases: LeaseFit, applied: list[str]) -> bool:
    """Write the implied crash and pause rates into the fleet groups' faults."""
    changed = False
    for imp in leases.implied:
        group = next(g for g in data["fleet"] if g["name"] == imp.group)
        faults = group.setdefault("faults", {}) or {}
        group["faults"] = faults
        if imp.fault == "crash" and imp.value.value > 0:
            crash = faults.get("crash") or {}
            crash["rate"] = f"{imp.value.value * 86400:.4g}/d"
            faults["crash"] = crash
            applied.append(
                f"fleet.{imp.group}.faults.crash.rate = {crash['rate']} (implied by "
                f"{leases.crash_losses} crash-caused lease losses)"
            )
            changed = True
        elif imp.fault == "pause" and imp.value.value > 0 and faults.get("pause"):
            faults["pause"]["rate"] = f"{imp.value.value * 3600:.4g}/h"
            applied.append(
                f"fleet.{imp.group}.faults.pause.rate = {faults['pause']['rate']} "
                f"(implied by {leases.false_losses} false reassignments)"
            )
            changed = True
    return changed


def _validate(data: dict[str, Any], obs: Observed) -> Scenario:
    import warnings

    from simulator.errors import ScenarioWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        return load_scenario_dict(data, source=f"the scenario fitted from {obs.source}")


def _show(spec: dict[str, Any]) -> str:
    if spec.get("dist") == "lognormal":
        return (
            f"lognormal, median {human_duration(spec['median'])}, p95 {human_duration(spec['p95'])}"
        )
    if spec.get("dist") == "exponential":
        return f"exponential, mean {human_duration(spec['mean'])}"
    return f"empirical, {len(spec.get('values', []))} values"


def rate_text(per_second: float) -> str:
    return format_rate(per_second)
