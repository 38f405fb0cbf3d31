"""Service profiles: other lease systems' rules, expressed as defaults of the service's fields.

A scenario's `service.profile` (default `aws-data-pipeline`) chooses the defaults of the fields
listed in `GOVERNED`; a field the scenario sets itself keeps its value. The values follow the
documented defaults of docs/rules.md section 4; where a system has a
rule the model lacks, the profile says so in `not_modelled` rather than imitating it.

`apply(data)` runs on the raw `service` mapping before validation (see `schema.Service`). It
records what it filled in `profile_defaults`, so that a scenario written out in full
(`scenario_to_dict`) and loaded again with another profile (a sweep over `service.profile`, a
`--set`) takes the new profile's defaults instead of keeping the old ones: a recorded field whose
value is unchanged is filled again; one changed since (by `--set`) is the user's.

This module imports nothing of the schema (the schema imports it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator.units import format_duration, parse_duration

DEFAULT = "aws-data-pipeline"

# The service fields a profile sets, in the order they are filled (ack_timeout may follow
# report_progress_timeout, so it comes after it).
GOVERNED = (
    "long_poll",
    "report_progress_timeout",
    "ack_timeout",
    "ack_uses_report_timeout",
    "lease_reading",
    "on_lease_expiry",
    "stale_progress",
    "stale_status",
    "heartbeat_renews_leases",
    "retry_delay_floor",
    "throttle",
)
DURATIONS = ("long_poll", "report_progress_timeout", "ack_timeout", "retry_delay_floor")

# ack_timeout's value in profiles whose heartbeat timeout runs from the hand-out: there is no
# separate acknowledgement window, the first heartbeat is due within the same timeout.
FOLLOWS_TIMEOUT = "= report_progress_timeout"

DATA_PIPELINE_THROTTLE = {
    "burst": 100.0, "poll": 2.0, "progress": 10.0, "status": 10.0, "heartbeat": 1.0,
}  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """One field's value under a profile, and where it comes from."""

    value: Any  # canonical: seconds, per-second rates, None for "off"
    why: str


@dataclass(frozen=True)
class Profile:
    """A lease system's rules as defaults of the service fields, with what the model lacks."""

    name: str
    system: str
    rules: Mapping[str, Rule]
    not_modelled: tuple[str, ...] = field(default=())
    # The system's rules that map onto workload fields, which a profile does not set.
    workload: tuple[str, ...] = field(default=())

    def default(self, name: str, data: Mapping[str, Any]) -> Any:
        """The profile's default of field `name`, given the (partly filled) service mapping."""
        value = self.rules[name].value
        if value == FOLLOWS_TIMEOUT:
            return data.get("report_progress_timeout", self.rules["report_progress_timeout"].value)
        return value


_NO_TIMEOUT = (
    "{system} has no heartbeat timeout unless one is set; the model needs a finite lease, so the "
    "profile keeps 15 min: set `report_progress_timeout` to your {what}"
)
_FROM_START = "the heartbeat timeout runs from the moment the task is handed out: no separate "
_FROM_START += "acknowledgement window"
_QUOTAS = (
    "{system} API quotas are not in the reference (they vary by region and account): "
    "throttling is off; set `service.throttle` to your quotas"
)
_NO_FLOOR = "no service minimum between attempts (Data Pipeline's 2-minute floor does not apply)"
_NO_RUNNER_HEARTBEAT = "no runner-level heartbeat: only task heartbeats renew a lease"
_ONE_LEASE = "one lease length, renewed from the time of each heartbeat (ref §4)"


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _shared(system: str, what: str, long_poll: float, poll_why: str) -> dict[str, Rule]:
    """The rules SWF, Step Functions and Temporal have in common (ref §4)."""
    return {
        "long_poll": Rule(long_poll, poll_why),
        "report_progress_timeout": Rule(900.0, _NO_TIMEOUT.format(system=system, what=what)),
        "ack_timeout": Rule(FOLLOWS_TIMEOUT, _FROM_START),
        "ack_uses_report_timeout": Rule(True, "a workload's own timeout bounds the first "
                                        "heartbeat too"),  # fmt: skip
        "lease_reading": Rule("15min", _ONE_LEASE),
        "heartbeat_renews_leases": Rule(False, _NO_RUNNER_HEARTBEAT),
        "retry_delay_floor": Rule(0.0, _NO_FLOOR),
        "throttle": Rule(None, _QUOTAS.format(system=_possessive(system))),
    }


PROFILES: dict[str, Profile] = {
    DEFAULT: Profile(
        DEFAULT, "AWS Data Pipeline",
        {
            "long_poll": Rule(90.0, "PollForTask holds a poll up to 90 s (ref §1)"),
            "report_progress_timeout": Rule(900.0, "reportProgressTimeout, 15 min (ref §1, §2)"),
            "ack_timeout": Rule(120.0, "acknowledge within 2 min (ref §1)"),
            "ack_uses_report_timeout": Rule(False, "undocumented; default no (ref §3.2)"),
            "lease_reading": Rule("15min", "the published API page (ref §3.1)"),
            "on_lease_expiry": Rule("fail_and_retry", "\"may be considered stalled and retried\" "
                                    "(ref §2, §3.3)"),  # fmt: skip
            "stale_progress": Rule("canceled", "the reply's `canceled` flag (ref §3.4)"),
            "stale_status": Rule("rejected", "TaskNotFound (ref §3.4)"),
            "heartbeat_renews_leases": Rule(False, "undocumented; default no (ref §3.5)"),
            "retry_delay_floor": Rule(120.0, "retryDelay minimum 2 min (ref §2, §3.6)"),
            "throttle": Rule(DATA_PIPELINE_THROTTLE, "account limits, burst 100 (ref §1)"),
        },
    ),
    "sqs": Profile(
        "sqs", "Amazon SQS",
        {
            "long_poll": Rule(20.0, "ReceiveMessage long polls at most 20 s (ref §4)"),
            "report_progress_timeout": Rule(30.0, "the visibility timeout, 30 s by default "
                                            "(0 s – 12 h; ref §4)"),  # fmt: skip
            "ack_timeout": Rule(FOLLOWS_TIMEOUT, "the visibility timeout runs from the receive: "
                                "no separate acknowledgement window"),  # fmt: skip
            "ack_uses_report_timeout": Rule(True, "a workload's own visibility timeout bounds "
                                            "the first renewal too"),  # fmt: skip
            "lease_reading": Rule("15min", "ChangeMessageVisibility counts the timeout from the "
                                  "time of the call (ref §4)"),  # fmt: skip
            "on_lease_expiry": Rule("reassign_same_attempt", "the message becomes visible and is "
                                    "received again; no retry is used up"),  # fmt: skip
            "stale_progress": Rule("not_found", "ChangeMessageVisibility on a message no longer "
                                   "in flight fails (MessageNotInflight); same effect as "
                                   "`canceled`: the worker stops"),  # fmt: skip
            "stale_status": Rule("rejected", "DeleteMessage with a superseded receipt handle "
                                 "does not delete the message"),  # fmt: skip
            "heartbeat_renews_leases": Rule(False, _NO_RUNNER_HEARTBEAT),
            "retry_delay_floor": Rule(0.0, _NO_FLOOR),
            "throttle": Rule(None, "standard queues support a nearly unlimited number of "
                             "API calls per second (SQS developer guide): throttling is off"),
        },
        (
            "the 12-hour cap on a message's total visibility per receive",
            "redrive policies (maxReceiveCount, dead-letter queues): a message is received "
            "again for ever",
            "a new visibility timeout chosen at each ChangeMessageVisibility: every renewal "
            "uses `report_progress_timeout`",
            "standard queues' occasional second delivery of a message without any lease expiry",
        ),
    ),
    "swf": Profile(
        "swf", "Amazon SWF",
        {
            **_shared("SWF", "activity type's defaultTaskHeartbeatTimeout", 60.0,
                      "PollForActivityTask long polls 60 s (ref §4)"),  # fmt: skip
            "on_lease_expiry": Rule("fail_and_retry", "the task times out (ActivityTaskTimedOut) "
                                    "and the decider schedules another attempt: set the "
                                    "workload's retry_delay and max_retries to your decider's"),
            "stale_progress": Rule("not_found", "RecordActivityTaskHeartbeat for a timed-out "
                                   "task gets an UnknownResource fault"),  # fmt: skip
            "stale_status": Rule("rejected", "RespondActivityTaskCompleted for a timed-out task "
                                 "is refused (UnknownResource)"),  # fmt: skip
        },
        (
            "`cancelRequested` in the heartbeat reply: a decider's cancellation (the model has "
            "none; a superseded worker hears `not_found`)",
            "schedule-to-start and schedule-to-close timeouts",
            "the decider's own delay between a timeout and the next attempt",
        ),
        (
            "the start-to-close cap is the workload's `attempt_timeout` (none by default, as in "
            "SWF)",
            "the decider's retries are the workload's `max_retries` and `retry_delay`",
        ),
    ),
    "step-functions": Profile(
        "step-functions", "AWS Step Functions",
        {
            **_shared("Step Functions", "state's HeartbeatSeconds", 60.0,
                      "GetActivityTask long polls 60 s (ref §4)"),  # fmt: skip
            "on_lease_expiry": Rule("fail_and_retry", "States.Timeout, then the state's Retry "
                                    "rules: set the workload's retry_delay and max_retries "
                                    "(max_retries: 0 for a state without Retry)"),  # fmt: skip
            "stale_progress": Rule("not_found", "SendTaskHeartbeat with a timed-out task's token "
                                   "fails (TaskTimedOut)"),  # fmt: skip
            "stale_status": Rule("rejected", "SendTaskSuccess with a timed-out task's token fails "
                                 "(TaskTimedOut)"),  # fmt: skip
        },
        (
            "Retry's IntervalSeconds x BackoffRate^k back-off: a constant `retry_delay` stands "
            "in for it",
        ),
        (
            "TimeoutSeconds is the workload's `attempt_timeout` (none by default)",
            "Retry's MaxAttempts is the workload's `max_retries` (0 for a state without Retry: "
            "the task is FAILED, as the execution would be)",
        ),
    ),
    "temporal": Profile(
        "temporal", "Temporal",
        {
            **_shared("Temporal", "activity's heartbeat timeout", 90.0,
                      "not in the reference: Data Pipeline's 90 s kept"),  # fmt: skip
            "on_lease_expiry": Rule("fail_and_retry", "a heartbeat timeout fails the attempt, "
                                    "then the retry policy (ref §4): set the workload's "
                                    "retry_delay and max_retries"),  # fmt: skip
            "stale_progress": Rule("not_found", "the heartbeat of a timed-out attempt is refused "
                                   "and the SDK cancels the activity; same effect as "
                                   "`canceled`"),  # fmt: skip
            "stale_status": Rule("rejected", "completing a timed-out attempt is refused"),
        },
        (
            "the SDK's heartbeat throttling: it sends at most one heartbeat per "
            "min(0.8 x heartbeat timeout, 60 s) (30 s without a timeout), whatever the activity "
            "calls; set the fleet's `progress_interval` to the interval that reaches the server "
            "(`temporal_heartbeat_interval`)",
            "the retry policy's exponential back-off (1 s x 2^k by default) and unlimited "
            "attempts: a constant `retry_delay` and at most 5 retries stand in for them",
            "schedule-to-start and schedule-to-close timeouts",
        ),
        (
            "the start-to-close timeout Temporal requires is the workload's `attempt_timeout`",
            "the retry policy is the workload's `max_retries` and `retry_delay`",
        ),
    ),
}


def temporal_heartbeat_interval(heartbeat_timeout: float | None, called_every: float) -> float:
    """Seconds between the heartbeats that reach Temporal's server when the activity calls
    heartbeat every `called_every` seconds: the SDK throttles them to one per
    min(0.8 x heartbeat timeout, 60 s), or 30 s when no heartbeat timeout is set (ref §4)."""
    throttle = 30.0 if heartbeat_timeout is None else min(0.8 * heartbeat_timeout, 60.0)
    return max(called_every, throttle)


def _canonical(name: str, value: Any) -> Any:
    """A field's value comparable across a written-out scenario and its source (seconds)."""
    if name in DURATIONS and not isinstance(value, bool):
        try:
            return parse_duration(value)
        except (ValueError, TypeError, OverflowError):
            return value
    return value


def _same(name: str, a: Any, b: Any) -> bool:
    x, y = _canonical(name, a), _canonical(name, b)
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=1e-12, abs_tol=0.0)
    return bool(x == y)


def apply(data: Any) -> Any:
    """The raw service mapping with the profile's defaults filled in (see the module docstring).

    Anything that is not a mapping, or names an unknown profile, is returned unchanged for the
    schema to report.
    """
    if not isinstance(data, Mapping):
        return data
    name = data.get("profile", DEFAULT)
    profile = PROFILES.get(name) if isinstance(name, str) else None
    if profile is None:
        return data
    recorded = data.get("profile_defaults")
    if recorded is not None and not isinstance(recorded, Mapping):
        return data  # the schema reports the wrong type
    recorded = recorded or {}
    out = dict(data)
    filled: dict[str, Any] = {}
    for key in GOVERNED:
        if key in out and not (key in recorded and _same(key, out[key], recorded[key])):
            continue  # the scenario's own value
        value = profile.default(key, out)
        out[key] = dict(value) if isinstance(value, dict) else value
        filled[key] = _canonical(key, value)
    out["profile_defaults"] = filled
    return out


def _cell(name: str, value: Any) -> str:
    if value == FOLLOWS_TIMEOUT:
        return "= report_progress_timeout"
    if value is None:
        return "off"
    if isinstance(value, bool):
        return str(value).lower()
    if name in DURATIONS:
        return format_duration(value)
    if isinstance(value, dict):
        return "Data Pipeline's limits"
    return f"`{value}`"


def markdown_table() -> str:
    """The table of docs/model.md: each governed field's value under each profile."""
    names = list(PROFILES)
    lines = ["| field | " + " | ".join(f"`{n}`" for n in names) + " |",
             "|---" * (len(names) + 1) + "|"]  # fmt: skip
    for name in GOVERNED:
        cells = [_cell(name, PROFILES[p].rules[name].value) for p in names]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_notes() -> str:
    """Per profile other than the default: why each value, and what the model does not have."""
    out = []
    for profile in PROFILES.values():
        if profile.name == DEFAULT:
            continue
        out.append(f"**`{profile.name}`** ({profile.system}):")
        out.append("")
        for name in GOVERNED:
            rule = profile.rules[name]
            out.append(f"- `{name}` {_cell(name, rule.value)}: {rule.why}.")
        for item in profile.workload:
            out.append(f"- *in the workload*: {item}.")
        for item in profile.not_modelled:
            out.append(f"- *not modelled*: {item}.")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else value


def shadowed(service: Any) -> str | None:
    """A warning when a non-default profile is given but the scenario itself sets some of its
    fields to Data Pipeline's defaults (a copied aws-defaults file): those values win over the
    profile's, which is probably not what was meant. None when there is nothing to say."""
    profile = PROFILES.get(getattr(service, "profile", DEFAULT))
    if profile is None or profile.name == DEFAULT:
        return None
    filled = getattr(service, "profile_defaults", {}) or {}
    base = PROFILES[DEFAULT]
    kept = []
    for name in GOVERNED:
        value = _plain(getattr(service, name))
        ours = profile.default(name, {"report_progress_timeout": service.report_progress_timeout})
        if name in filled or _same(name, value, ours):
            continue
        if _same(name, value, base.rules[name].value):
            kept.append(f"{name} ({_cell(name, value).strip('`')})")
    if not kept:
        return None
    return (
        f"service.profile is {profile.name!r}, but the scenario sets {', '.join(kept)} to Data "
        f"Pipeline's default{'s' if len(kept) > 1 else ''}, and a scenario's own values win over "
        "the profile's; remove them to use the profile's rules."
    )
