"""`leasesim --version` and `--help` start quickly (issue 14, item 7): parsing the command line
imports argparse and light modules only; the simulation (numpy, pandas, scipy, simpy, matplotlib)
is imported by the command that runs. Checked by what a fresh interpreter has loaded, not by time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "scipy", "matplotlib", "simpy")

# What `leasesim --version`, `leasesim --help` and every `leasesim COMMAND --help` do, in one
# fresh interpreter; prints the heavy modules then loaded, and the exit statuses.
_PROBE = """
import contextlib, io, json, sys
from simulator.cli.app import COMMANDS, build_parser, main
build_parser()
statuses = []
for argv in (["--version"], ["--help"], *([name, "--help"] for name in COMMANDS)):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        statuses.append(main(argv))
heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
print(json.dumps({"heavy": heavy, "statuses": statuses, "commands": len(COMMANDS)}))
""".replace("HEAVY", repr(HEAVY))


def test_parsing_the_command_line_loads_no_heavy_library() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
           os.environ.get("PYTHONPATH")]))}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["statuses"] == [0] * (report["commands"] + 2)
    assert report["heavy"] == [], (
        f"parsing the command line imported {report['heavy']}; import them in the command's "
        "execute() instead (see simulator/cli/app.py)"
    )


def test_the_help_texts_copy_of_the_default_objective_is_current() -> None:
    from simulator.cli import recommend_command
    from simulator.recommendation.requirements import DEFAULT_OBJECTIVE

    assert recommend_command.DEFAULT_OBJECTIVE == DEFAULT_OBJECTIVE

