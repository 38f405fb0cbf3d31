"""Versions of leasesim and its key dependencies, for manifests, results and `--version`."""

from __future__ import annotations

import hashlib
import importlib.metadata
from functools import cache
from pathlib import Path

KEY_DEPENDENCIES = ("numpy", "simpy", "pandas", "scipy", "pydantic")


@cache  # reading a distribution's metadata takes milliseconds; every run's result records six
def version(package: str) -> str:
    """An installed distribution's version, or "unknown" (read once per process)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def leasesim_version() -> str:
    """The installed version, or pyproject.toml's plus "+checkout" when run from a checkout."""
    installed = version("leasesim")
    if installed != "unknown":
        return installed
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        import tomllib

        return str(tomllib.loads(pyproject.read_text())["project"]["version"]) + "+checkout"
    except (OSError, KeyError, ValueError):
        return "unknown"


def dependency_versions() -> dict[str, str]:
    return {package: version(package) for package in KEY_DEPENDENCIES}


def source_hash() -> str:
    """12 hex digits of a SHA-256 over the package's Python sources (paths and contents).

    It changes whenever any file under `simulator/` changes, committed or not, and is the same on
    every machine for the same sources: what executed notebooks record to show which code made
    their outputs (`notebooks/execute.py`, `tests/test_notebooks_committed.py`).
    """
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()[:12]


def code_version() -> str:
    """leasesim's version and its source hash, e.g. "0.1.0+src.3f2a9c1d4e5b"."""
    return f"{leasesim_version().split('+')[0]}+src.{source_hash()}"
