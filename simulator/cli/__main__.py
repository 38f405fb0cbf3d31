"""`python -m simulator.cli`."""

import sys

from simulator.cli.app import main

sys.exit(main())
