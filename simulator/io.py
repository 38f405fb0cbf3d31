"""Writing files that readers never see half-written, and values as strict JSON.

Every file leasesim writes goes through here: `atomic_write_text` / `atomic_write_bytes` write a
hidden temporary sibling (`.NAME.tmp-XXXX`, skipped by readers and globs), flush it to disk and
rename it over the target, so a reader (or a writer killed mid-way) sees the old file or the new
one, never a mix. `replace_dir` does the same for a whole folder. `json_safe` is the one rule for
values JSON has no word for: NaN and infinities become null, tuples lists, NumPy scalars numbers.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "fsync_dir",
    "json_safe",
    "json_text",
    "plain",
    "replace_dir",
    "write_json",
]


def json_safe(value: Any) -> Any:
    """NaN and infinities as null (strict JSON has no such numbers); tuples as lists; mapping keys
    as text; NumPy scalars as Python numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        return json_safe(value.item())
    return value


def json_text(value: Any) -> str:
    """`value` as strict JSON (`json_safe`), indented, with a final newline."""
    return json.dumps(json_safe(value), indent=2, allow_nan=False) + "\n"


def plain(value: Any) -> Any:
    """`value` as it reads back from JSON (for comparing with a saved copy)."""
    return json.loads(json.dumps(json_safe(value)))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` through a hidden temporary sibling and a rename: never half-written.

    The file is an ordinary one (mode 0644); on any error (or a signal) the temporary is removed
    and an existing `path` is left as it was.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)  # the rename itself survives a power cut
    return target


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (renames, new names) to disk; best effort where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (and Windows) cannot fsync a folder
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    """Flush every file written into `folder` (by pandas, json, ...) and the folder itself, so
    that what is renamed into place is on disk, not only in the page cache."""
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fsync_dir(folder)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """`atomic_write_bytes` of `text` in UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], value: Any) -> Path:
    """`value` as strict JSON (`json_text`), written atomically."""
    return atomic_write_text(path, json_text(value))


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return done == 0


def replace_dir(tmp: Path, target: Path) -> None:
    """Rename the folder `tmp` to `target`; an existing `target` is swapped out in one step, then
    deleted. Every file in `tmp` is flushed to disk first, and the rename after it.

    Where the atomic exchange is not available, the old folder is moved aside first: a writer
    killed between the two renames then leaves the old folder whole beside the target.
    """
    _fsync_tree(tmp)
    if not target.exists():
        os.replace(tmp, target)
        fsync_dir(target.parent)
        return
    if _exchange(tmp, target):
        fsync_dir(target.parent)
        shutil.rmtree(tmp, ignore_errors=True)  # now holds the previous folder
        return
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)  # put the previous folder back
        raise
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)
