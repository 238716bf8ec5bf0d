"""Writing the files of a results folder so that no reader ever sees a partial one (a temporary file in the same
folder, fsync, os.replace, fsync of the folder), with the mode the umask gives a new file (0o666 & ~umask, as
`open` would), a parquet table as bytes, and the store's one-line warnings on stderr.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "table_bytes", "warn"]


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that no reader ever sees a partial file: a temporary file in the
    same folder, fsync, os.replace (atomic on POSIX), then fsync of the folder (the rename is durable)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 whatever the umask
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _umask() -> int:
    """The process's umask, read without changing it where /proc tells (os.umask can only set it)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def warn(message: str) -> None:
    """One warning line on stderr (the store is used by the CLI and by workers alike)."""
    print(f"hmodel: warning: {message}", file=sys.stderr, flush=True)


def table_bytes(table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()
