"""Where each value of a scenario came from: a line of its file, or a `--set` override.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DataPath = tuple[str | int, ...]  # a position in the plain data: keys and list indices


@dataclass
class SourceMap:
    """Where each value of a scenario came from: a line of `file`, or a `--set` override.

    `lines` maps a path in the plain data, e.g. ("fleet", 0, "faults", "pause", "duration"), to the
    1-based line of its key (or list item); `overrides` maps the paths `--set` wrote to the
    override's text. `base_dir` is where relative CSV paths are resolved; `inputs` are the files
    read for the scenario besides its own (resolved), which no output may overwrite.
    """

    file: str
    base_dir: Path
    lines: dict[DataPath, int] = field(default_factory=dict)
    overrides: dict[DataPath, str] = field(default_factory=dict)
    inputs: list[Path] = field(default_factory=list)

    def locate(self, path: DataPath) -> tuple[int | None, str | None]:
        """(line, override) of the value at `path`, or of its nearest ancestor we know about.

        An override anywhere above the path wins: the file's lines below it were replaced.
        """
        for n in range(len(path), -1, -1):
            if path[:n] in self.overrides:
                return None, self.overrides[path[:n]]
        for n in range(len(path), -1, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]], None
        return None, None

    def detail(self, path: DataPath, field_name: str, message: str) -> dict[str, Any]:
        """One entry of `LeasesimError.details` for the value at `path`."""
        line, override = self.locate(path)
        out: dict[str, Any] = {"field": field_name, "message": message, "file": self.file}
        out["line"] = line
        if override is not None:
            out["override"] = override
        return out
