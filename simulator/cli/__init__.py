"""The `leasesim` command line (see `app`)."""

from simulator.cli.app import main

__all__ = ["main"]
