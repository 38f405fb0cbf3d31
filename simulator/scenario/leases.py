"""The lease-length rules: how long a lease lasts under each documented reading.

The model's service arms its timers with these lengths; the size guards, the warnings, the closed
forms and `simulator.lease_timeouts` read the same three numbers from here.
"""

from __future__ import annotations

from simulator.scenario.schema import Service, Workload


def timeouts(service: Service, workload: Workload) -> tuple[float, float, float]:
    """(ack, first, renew): the lease until the first report, after it, and after each later one.

    Reference section 3: contradiction 1 gives the four readings of 15 vs 5 minutes; contradiction
    2 (does an activity's reportProgressTimeout replace the 2-minute acknowledgement?) is
    `ack_uses_report_timeout`.
    """
    rpt = workload.report_progress_timeout or service.report_progress_timeout
    short = service.short_timeout
    first, renew = {
        "15min": (rpt, rpt),
        "5min": (short, short),
        "min": (min(short, rpt), min(short, rpt)),
        "two_stage": (short, rpt),  # 5 min until the second report, then reportProgressTimeout
    }[service.lease_reading]
    ack = service.ack_timeout
    if service.ack_uses_report_timeout and workload.report_progress_timeout is not None:
        ack = workload.report_progress_timeout
    return ack, first, renew
