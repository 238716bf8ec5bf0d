"""The process records of a sweep lock (DIR/.sweep.lock): the pid and start time of the sweep holding it and of each
of its worker processes, so that a later sweep can tell live processes of a killed sweep (refused:
`ResultsStore.claim`) from a reused pid.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["proc_start", "lock_record", "lock_records", "alive", "record_worker"]


def proc_start(pid: int) -> str:
    """The start time of process ``pid`` (clock ticks since boot, /proc/PID/stat field 22), '' if unknown."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def lock_record(pid: int) -> str:
    return f"{pid} {proc_start(pid) or '-'}\n"


def lock_records(lock_path) -> list[tuple[int, str]]:
    out = []
    try:
        text = Path(lock_path).read_text(errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():
            out.append((int(parts[0]), parts[1]))
    return out


def alive(pid: int, start: str) -> bool:
    """Whether the recorded process still runs (same pid and start time: not a reused pid)."""
    if start != "-" and os.path.isdir("/proc"):
        return proc_start(pid) == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def record_worker(out) -> None:
    """Append this (worker) process to DIR/.sweep.lock, so that a later sweep sees it if it outlives its parent."""
    with contextlib.suppress(OSError):
        with open(Path(out) / ".sweep.lock", "a") as fh:
            fh.write(lock_record(os.getpid()))
