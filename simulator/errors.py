"""Errors and warnings a user can act on: what is wrong, where (file, line, field), what is allowed.

Every problem leasesim reports about its input is a `LeasesimError` carrying a stable `code` (for
scripts and the CLI's exit status), one readable paragraph, and per-problem `details` that name the
field, the file and the line, so a scenario with three typos is fixed in one pass, not three.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: The codes in use. Scripts may rely on these strings; add new ones rather than renaming.
VALIDATION_ERROR = "VALIDATION_ERROR"  # the scenario's content breaks a rule of the schema
FILE_ERROR = "FILE_ERROR"  # a file is missing, unreadable, too big, binary or not YAML/CSV
USAGE_ERROR = "USAGE_ERROR"  # a command-line argument (e.g. --set) is malformed
RUN_ERROR = "RUN_ERROR"  # a run could not finish or save its results (disk full, a bug)
INTERRUPTED = "INTERRUPTED"  # the user stopped a run (Ctrl-C); finished work is kept
LIMIT_EXCEEDED = "LIMIT_EXCEEDED"  # a run estimated past the size guards (see experiments.guards)


def printable(text: Any, keep: str = "") -> str:
    """`text` with every character a terminal would act on shown as its escape, e.g. `\\x1b`:
    control characters (escape sequences can clear the screen or fake output), bidirectional
    overrides and other invisible format characters, line separators and lone surrogates; the
    characters in `keep` (say "\\n" for a multi-line message) pass through.

    The one escaping of leasesim's output: names and text from files reach the terminal (CLI
    output, error messages, check reports) and JUnit XML only through it.
    """
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else repr(c)[1:-1] for c in text)


def describe_location(file: str | None, line: int | None, override: str | None = None) -> str:
    """ "scenario.yaml, line 12" / "scenario.yaml, from --set a.b=1" / "scenario.yaml" / ""."""
    where = file or ""
    if override is not None:
        where = f"{where}, from --set {override}" if where else f"from --set {override}"
    elif line is not None:
        where = f"{where}, line {line}" if where else f"line {line}"
    return where


def closest(word: Any, choices: Iterable[Any], cutoff: float = 0.6) -> str | None:
    """The choice `word` was most likely meant to be (a typo's fix), or None if none is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(word: Any, choices: Iterable[Any], cutoff: float = 0.6) -> str:
    """ " Did you mean 'x'?" for the closest choice to `word` (`closest`), or "" if none is close.

    The one did-you-mean of leasesim's messages: field names, metric names, options, files.
    """
    close = closest(word, choices, cutoff)
    return f" Did you mean {close!r}?" if close is not None else ""


def interrupted(exc: BaseException) -> bool:
    """Whether `exc` is a Ctrl-C (or a SIGTERM the CLI turns into one), or an error it caused: an
    interrupt that lands while an extension module loads comes out as that module's own error
    (pybind11's: "ImportError: initialization failed", raised from the KeyboardInterrupt)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class LeasesimError(Exception):
    """A problem with the user's input, explained well enough to fix without reading the code.

    `message` is one paragraph about the whole problem; `details` has one entry per offending
    field: {"field": "fleet[etl].faults.pause.duration", "message": ..., "file": ..., "line": ...}
    and, when the value came from the command line, "override": "PATH=VALUE" (line is then None).
    """

    def __init__(self, code: str, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: list[dict[str, Any]] = list(details or [])

    def __str__(self) -> str:
        # A single detail usually restates the message; print it once, with its location.
        # Names and values come from files: control characters are shown escaped (`printable`).
        paragraphs = [printable(self.message, keep="\n")]
        for detail in self.details:
            text = detail.get("message", "")
            if text == self.message:
                continue
            where = describe_location(
                detail.get("file"), detail.get("line"), detail.get("override")
            )
            field = detail.get("field")
            head = ": ".join(printable(part) for part in (where, field) if part)
            text = printable(text, keep="\n")
            paragraphs.append(f"{head}: {text}" if head else text)
        return "\n\n".join(paragraphs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form for `--json` output and run manifests."""
        return {"code": self.code, "message": self.message, "details": list(self.details)}


@dataclass(unsafe_hash=True)  # not frozen: Python sets __traceback__ etc. on a warning raised
class ScenarioWarning(UserWarning):
    """A scenario that is valid but probably does not do what its author meant.

    Example: a progress interval longer than the lease, so every attempt is reassigned.

    Also the category of the Python warnings `load_scenario`, `run`, `replicate` and `sweep` issue
    (`warnings.filterwarnings("ignore", category=simulator.ScenarioWarning)` silences them).
    """

    field: str
    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = describe_location(self.file, self.line)
        head = ": ".join(printable(part) for part in (where, self.field) if part)
        message = printable(self.message, keep="\n")
        return f"{head}: {message}" if head else message
