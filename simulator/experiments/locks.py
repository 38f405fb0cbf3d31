"""One writer per output folder: an exclusive lock held while a command writes there.

`leasesim run --out`, `sweep --out` and `check --update-baseline` take the lock on the folder
they write (`flock` on the folder itself: no lock file is left behind, and a read-only folder
can be locked too). A second writer is refused at once with a clear message instead of mixing
two experiments' files; the lock goes with its holder, however that ends (kill -9 included), so
an interrupted experiment can always be resumed. Where the file system cannot lock (no `fcntl`,
some network mounts) the folder is written unlocked, as before.

Only the writer's own temporary leftovers are cleaned here (`clean_leftovers`), and only under the
lock: a writer killed between writing a temporary file or folder and renaming it leaves it behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from simulator.errors import USAGE_ERROR, LeasesimError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks here; folders are written unlocked
    fcntl = None  # type: ignore[assignment]

# The lock cannot be had on this file system (not: someone else holds it).
_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS, errno.EBADF}


def _holder(folder: Path) -> int | None:
    """The process holding the flock on `folder`, from /proc/locks (Linux), if it can be told."""
    try:
        inode = folder.stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
            with contextlib.suppress(ValueError):
                return int(fields[4])
    return None


class FolderLock:
    """An exclusive lock on one folder while one command writes there (see the module)."""

    def __init__(self, folder: str | os.PathLike[str], flag: str = "--out",
                 then: str = "then add --resume to continue its experiment") -> None:  # fmt: skip
        self.folder = Path(folder)
        self.flag = flag
        self.then = then
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> FolderLock:
        """Take the lock, or raise a USAGE_ERROR naming the folder (and the holder's process)."""
        if fcntl is None or self._fd is not None:
            return self
        try:
            fd = os.open(self.folder, os.O_RDONLY)
        except OSError:
            return self  # the folder is checked (and created) by the caller; nothing to lock
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = _holder(self.folder)
            who = f" (process {pid})" if pid is not None and pid != os.getpid() else ""
            raise LeasesimError(
                USAGE_ERROR,
                f"{self.flag} {self.folder} is being written by another leasesim command{who}; "
                f"two writers would mix their files. Wait for it to finish ({self.then}), or "
                "choose another folder.",
            ) from None
        except OSError as exc:
            os.close(fd)
            if exc.errno in _UNSUPPORTED:
                return self  # this file system has no locks: written unlocked, as before
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the flock

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit: the process's end releases it
            self.release()


def clean_leftovers(folder: Path, names: Iterable[str]) -> list[Path]:
    """Remove the temporaries (`.NAME.tmp-*`, `.NAME.old-*`) that a killed writer left in
    `folder` for the given glob patterns of NAME; call only while holding the folder's lock."""
    removed = []
    for name in names:
        for pattern in (f".{name}.tmp-*", f".{name}.old-*"):
            for path in folder.glob(pattern):
                try:
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    else:
                        path.unlink()
                except OSError:
                    continue  # left for next time; readers skip hidden names anyway
                removed.append(path)
    return removed
