"""`python -m simulator`: the `leasesim` command (the same as `python -m simulator.cli`)."""

import sys

from simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
