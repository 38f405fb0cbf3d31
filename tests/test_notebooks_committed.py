"""The committed notebooks are documents: executed top to bottom, without errors, by this code.

A notebook whose outputs were made by other code than the current `simulator/` fails here: run
`make notebooks` (it re-executes every notebook in place and records `metadata.leasesim.version`)
and commit the notebooks with the code change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator.versions import code_version

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
RERUN = "run `make notebooks` and commit the notebooks"


def _code_cells(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    notebook = json.loads(path.read_text())
    cells = [
        c for c in notebook["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()
    ]
    return notebook, cells


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_ran_in_order_without_errors(path: Path) -> None:
    _, cells = _code_cells(path)
    counts = [cell.get("execution_count") for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), f"not run top to bottom: {counts}; {RERUN}"
    errors = [o for cell in cells for o in cell.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, f"{errors[0]['ename']}: {errors[0]['evalue']}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_shows_its_outputs_and_figures(path: Path) -> None:
    _, cells = _code_cells(path)
    outputs = [o for cell in cells for o in cell.get("outputs", [])]
    assert outputs, f"saved without outputs; {RERUN}"
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert figures, "no figure among the outputs: a reader of the repository sees none"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_was_executed_by_this_code(path: Path) -> None:
    notebook, _ = _code_cells(path)
    recorded = notebook["metadata"].get("leasesim", {}).get("version")
    assert recorded == code_version(), f"outputs from {recorded}, code is {code_version()}; {RERUN}"
