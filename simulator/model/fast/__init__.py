"""Fast mode: the exact model's classes with their hooks overridden to count calls in bulk.

`schedule` (a working thread's reports as a schedule, and which fleet groups may run fast),
`service` (standing polls, leases renewed by a schedule) and `runner` (threads and heartbeats that
count in bulk). Chosen per fleet group when the simulation is built (`simulation.Simulation`).
"""

from simulator.model.fast.schedule import FastSchedule
from simulator.scenario.modes import fallbacks

__all__ = ["FastSchedule", "fallbacks"]
