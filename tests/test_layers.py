"""The import structure of `simulator/`: no cycles, and every import points down the layers.

Layers, from the bottom (docs/architecture.md):

0. base: units, seeds, errors, io, collector, versions: import nothing of leasesim but each other;
1. scenario: the input package `simulator/scenario/`; `distributions`, `arithmetic` and
   `arrival_profile` beside it;
2. model: `simulator/model/`, pure SimPy;
3. results: `simulator/results/`;
4. experiments: `simulator/experiments/`;
5. interfaces: check, recommendation, calibration, analytic, plots, report, api;
6. cli: `simulator/cli/` and `simulator/__main__.py`.

A module may import its own layer and the layers below it, never a layer above. Every import
counts: module level, inside a function, and under `if TYPE_CHECKING:` (a type is a dependency
too), and the graph of these imports has no cycles. `simulator/__init__.py` is the public face
and is exempt: it names the whole API (lazily), and nothing inside the package imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "simulator"

LAYERS: dict[str, int] = {
    "units": 0, "seeds": 0, "errors": 0, "io": 0, "collector": 0, "versions": 0,
    "scenario": 1, "distributions": 1, "arithmetic": 1, "arrival_profile": 1,
    "model": 2,
    "results": 3,
    "experiments": 4,
    "check": 5, "recommendation": 5, "calibration": 5, "analytic": 5, "plots": 5, "report": 5,
    "api": 5,
    "cli": 6, "__main__": 6,
}  # fmt: skip
NAMES = {n: name for name, n in (("base", 0), ("scenario", 1), ("model", 2), ("results", 3),
                                 ("experiments", 4), ("interfaces", 5), ("cli", 6))}  # fmt: skip


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _target(name: str) -> str | None:
    """The simulator module that an imported name lives in (a package's `__init__`, a module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> set[str]:
    """Every simulator module `module` imports, at any level of its code."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from simulator.x import y`: the module simulator.x.y, or a name of simulator.x.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        for name in names:
            if name.split(".")[0] == "simulator":
                target = _target(name)
                if target and target != module:
                    out.add(target)
    return out


GRAPH = {module: imports(module) for module in MODULES}


def layer(module: str) -> int:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else parts[0]
    if key not in LAYERS:
        raise AssertionError(
            f"{module} belongs to no layer: add {key!r} to LAYERS here and to docs/architecture.md"
        )
    return LAYERS[key]


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        if module != "simulator":
            layer(module)


def test_no_import_points_up_a_layer() -> None:
    upward = [
        f"{module} ({NAMES[layer(module)]}) imports {target} ({NAMES[layer(target)]})"
        for module, targets in sorted(GRAPH.items())
        if module != "simulator"
        for target in sorted(targets)
        if target != "simulator" and layer(target) > layer(module)
    ]
    assert upward == [], "\n".join(upward)


def test_nothing_imports_the_public_face() -> None:
    # `simulator/__init__.py` imports everything (lazily): a module importing it imports upward.
    users = sorted(m for m, targets in GRAPH.items() if "simulator" in targets and m != "simulator")
    assert users == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycles() -> None:
    graph = {m: t - {"simulator"} for m, t in GRAPH.items() if m != "simulator"}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", ["simulator.model", "simulator.scenario.schema"])
def test_the_model_and_the_scenario_load_no_pandas_or_scipy(module: str) -> None:
    import subprocess
    import sys

    code = (f"import {module}, sys; heavy = sorted({{'pandas', 'scipy', 'matplotlib'}} & "
            "set(sys.modules)); assert not heavy, heavy")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_scenario_vocabulary_names_the_metrics_and_flags_of_the_results() -> None:
    # The scenario layer names metrics and flags (expect:, --require) without importing the code
    # that computes them: the two lists must agree, in order and in units.
    from simulator.results import health
    from simulator.results.metrics import METRICS
    from simulator.scenario.outputs import FLAG_NAMES, METRIC_UNITS

    assert {m.name: m.unit for m in METRICS.values()} == METRIC_UNITS
    assert list(METRICS) == list(METRIC_UNITS)
    assert health.FLAG_NAMES is FLAG_NAMES


def test_the_public_face_names_each_export_with_its_home() -> None:
    import simulator

    assert sorted(simulator.__all__) == sorted(simulator._HOME_OF)
