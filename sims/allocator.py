"""Keep freed memory in the process: glibc's allocator settings for a stream of equal-sized buffers.

Every sub-batch of the dense engine allocates and frees the same (D, 2048) float32 operands (about
30 MB at d = 60). With glibc's defaults such blocks are mmap-ed and returned to the kernel at every
free, from several per-thread arenas, so each sub-batch page-faults its buffers in again: 9 million
minor faults and a third of the wall time of a d = 60 sweep (measured). Two arenas, no mmap below
1 GiB and no trimming below 1 GiB keep the pages mapped. The settings change the whole process, so the library never applies them:
the `hmodel` entry point does (sims/cli.py, before it imports JAX), and so do its sweep workers
(sims/backends.py); a script of your own can call `tune_allocator()` first thing. `HMODEL_MALLOC_TUNING=0`
turns this off, and on other C libraries it does nothing. This module imports nothing but ctypes.

Idle BLAS threads. On the CPU the dense engine's products run through OpenBLAS (engines/dense_kernels.py) between
JAX programs (data generation, labels) that use the same cores. OpenBLAS's idle threads spin for 2^28 cycles
(~0.1 s) before they sleep, so each GEMM's threads spin through the JAX work that follows it: at d = 60 the nested
sweep burned 82-90 s of CPU for 45-49 s of wall time, and 65-71 s for 42-47 s with OPENBLAS_THREAD_TIMEOUT=4
(2^4 cycles; measured, three runs each). `tune_allocator` sets that default in the environment, which OpenBLAS
reads when it is loaded: the entry point calls it before numpy is imported, and its worker processes inherit it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -2, -3, -8
_SETTINGS = ((_M_ARENA_MAX, 2), (_M_MMAP_THRESHOLD, 1 << 30), (_M_TRIM_THRESHOLD, 1 << 30), (_M_TOP_PAD, 1 << 28))


def tune_allocator() -> bool:
    """Apply the settings above (glibc's, and OpenBLAS's idle-thread timeout unless already set); True when glibc
    accepted all of them."""
    if os.environ.get("HMODEL_MALLOC_TUNING", "1") == "0":
        return False
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")  # read by OpenBLAS when numpy loads it (docstring above)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return all(mallopt(option, value) == 1 for option, value in _SETTINGS)
