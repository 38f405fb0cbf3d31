"""Execute notebooks in place, top to bottom, with full runs, and record the code that ran them.

    .venv/bin/python notebooks/execute.py [NOTEBOOK.ipynb ...]   # all of notebooks/ by default

`make notebooks` runs this. Each notebook runs in a fresh kernel (the `leasesim` kernel that
`make notebook` registers, or `--kernel NAME`) from the notebooks/ folder, with
LEASESIM_NOTEBOOK_QUICK unset (full runs) and LEASESIM_PROGRESS=0 (no progress bars in the saved
outputs). A notebook is rewritten only if every cell ran without error; its metadata then records
`leasesim.version`, the version and source hash of the code that produced the outputs
(`simulator.versions.code_version()`), which `tests/test_notebooks_committed.py` compares with the
current code, so that outputs older than the code fail the test suite.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the checkout's simulator, as the kernel imports it

from simulator.versions import code_version  # noqa: E402

KERNEL = "leasesim"
KERNEL_DISPLAY = "Python (leasesim)"


def execute(path: Path, kernel: str, timeout: float | None) -> float:
    """Run one notebook in place; return its wall time. A failing cell raises (file untouched)."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=kernel,
        timeout=timeout,
        record_timing=False,  # no per-cell timestamps: a re-run changes what the code changes
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - started
    notebook.metadata["kernelspec"] = {"name": kernel, "display_name": KERNEL_DISPLAY,
                                       "language": "python"}  # fmt: skip
    notebook.metadata["leasesim"] = {"version": code_version()}
    nbformat.validate(notebook)
    tmp = path.with_name(path.name + ".tmp")
    nbformat.write(notebook, tmp)
    os.replace(tmp, path)  # atomically: an interrupted run leaves the old notebook whole
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--kernel", default=KERNEL, help=f"kernel name (default {KERNEL})")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds one cell may take (default 3600)")  # fmt: skip
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted(HERE.glob("*.ipynb"))
    os.environ.pop("LEASESIM_NOTEBOOK_QUICK", None)  # the kernel inherits this environment
    os.environ["LEASESIM_PROGRESS"] = "0"
    failed = 0
    for path in paths:
        print(f"{path.name}: running ...", flush=True)
        try:
            elapsed = execute(path, args.kernel, args.timeout)
        except Exception as error:  # a cell's error: report it, keep the committed file, go on
            failed += 1
            print(f"{path.name}: FAILED, left unchanged:\n{error}", file=sys.stderr, flush=True)
            continue
        print(f"{path.name}: executed in {elapsed:.0f} s, version {code_version()}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
