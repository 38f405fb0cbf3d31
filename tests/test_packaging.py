"""First contact: `python -m simulator`, the README's layout section, the licence metadata."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_python_dash_m_simulator_is_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "simulator", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "leasesim" in done.stdout + done.stderr


def test_readme_layout_names_every_module_and_package() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    package = block.split("simulator/\n", 1)[1].split("\nscenarios/", 1)[0]
    named = set(re.findall(r"(?<![\w/.])([a-z_]+(?:\.py|/))(?![\w.])", package))
    entries = {
        p.name + "/" if p.is_dir() else p.name
        for p in (ROOT / "simulator").iterdir()
        if (p / "__init__.py").exists() or (p.suffix == ".py" and p.name != "__init__.py")
    }
    assert entries - named == set(), "simulator/ entries missing from the README's layout"
    assert named - entries == set(), "README layout names what does not exist"
    top = block.rsplit("\n", 2)[-2].split()
    assert all((ROOT / name).is_dir() for name in top), top


def test_license_is_an_spdx_string_with_its_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert all((ROOT / name).exists() for name in project["license-files"])
