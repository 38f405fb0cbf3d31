"""Versions of leasesim and its key dependencies, for manifests, results and `--version`."""

from __future__ import annotations

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
