"""The model: the Data Pipeline service's lease rules, task runners, faults and workloads.

Pure SimPy: no I/O, no pandas. Everything is float seconds. `simulate` builds and runs one model.
"""

from simulator.model.simulation import Simulation, simulate

__all__ = ["Simulation", "simulate"]
