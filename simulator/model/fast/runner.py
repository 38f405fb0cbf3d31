"""Fast mode's runner: threads and heartbeats that count their calls in bulk where they can.

`FastRunner`, `FastThread` and `FastHeartbeat` are the exact classes of `simulator.model.runner`
with their hooks overridden; `simulation.Simulation` picks them for each fleet group that can run
fast (`fallbacks`). They live in modules named for their ideas:

- `draws`: `FastRunner` (its own random stream) and `RequestLosses`, which of a thread's requests
  message loss drops, drawn ahead;
- `thread`: `FastThread`, the phase machine of a poll thread that stands while idle and takes
  tasks on callbacks (its phases: `phases`); `startup`: its fixed start-up, and the
  acknowledgement that ends it, counted with the reports where it can be;
- `reports`: `BulkReporter`, the part of the thread that counts its reports in bulk while it
  works, and takes its requests' losses from the drawn sequence;
- `heartbeat`: `FastHeartbeat`, beats that renew no lease, counted at the end of a stretch.
"""

from __future__ import annotations

from simulator.model.fast.draws import FastRunner, RequestLosses
from simulator.model.fast.heartbeat import FastHeartbeat
from simulator.model.fast.phases import Phase, Then
from simulator.model.fast.thread import FastThread

FastRunner.thread_class = FastThread
FastRunner.heartbeat_class = FastHeartbeat

__all__ = ["FastHeartbeat", "FastRunner", "FastThread", "Phase", "RequestLosses", "Then"]
