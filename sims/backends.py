"""Where the tasks of a sweep run: in this process, in a pool of local processes, or on Dask.

A backend's ``execute(fn, tasks, out, on_row)`` yields ``(task, fn(task, sink))`` as tasks finish. The
sink tells ``fn`` where its rows go as each is finished: ``on_row`` (a callable of the client) in this
process, the results folder for local worker processes (each row file has a single writer and is
written atomically, see sims/store.py), and None on Dask, whose workers may not share a file system:
there the rows come back with the task's result and the client alone writes them.

Threads. XLA sizes its CPU thread pool from the process's CPU affinity; its flags
(--xla_cpu_multi_thread_eigen=false, intra_op_parallelism_threads=1) did not reduce the busy threads of
jax 0.10 (measured per-thread CPU time of a jitted 2048 x 2048 matmul), while an affinity mask of one core
did. So with several workers each is pinned, before its first JAX computation, to its own cores: cores // workers
each (at least one, dealt round-robin), and its BLAS pools (numpy's and scipy's OpenBLAS) are cut to as many
threads. A single in-process worker keeps every core.

Orphans. A worker must not outlive the sweep that started it (a SIGKILLed parent would leave workers
computing and writing into a folder that no lock protects any more). Each worker of a local pool or of a
Dask LocalCluster asks the kernel for SIGKILL when its parent dies (Linux prctl PR_SET_PDEATHSIG) and runs a
watchdog thread that ends the process when its parent pid changes (every platform). Local workers also
record themselves in DIR/.sweep.lock, so that a later sweep refuses a folder still used by live ones.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time

from hierarchical_model._validation import check_int

__all__ = ["LocalBackend", "DaskBackend", "make_backend", "worker_cores"]


def worker_cores(n_workers: int, cores=None) -> list[tuple]:
    """The cores of each of n_workers workers: disjoint blocks of len(cores) // n_workers (>= 1)."""
    cores = sorted(os.sched_getaffinity(0)) if cores is None else list(cores)
    per = max(1, len(cores) // n_workers)
    return [tuple(cores[(i * per + j) % len(cores)] for j in range(per)) for i in range(n_workers)]


def _pin_process(cores) -> None:
    """Restrict every thread of this process (and the threads it starts later) to ``cores`` (Linux), and size
    its BLAS/OpenMP pools to len(cores) threads: OpenBLAS fixes its pool when it is loaded (by then every core),
    and a worker's spare BLAS threads spin against the other workers (see `engines.linalg.EIGEN_BLAS_THREADS`)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=len(cores))
    if not hasattr(os, "sched_setaffinity"):
        return
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cores)
        except OSError:  # a thread that has just exited
            pass


WATCHDOG_SECONDS = 0.5  # how often a worker checks that its parent is alive


def die_with_parent(parent_pid: int) -> None:
    """End this process when ``parent_pid`` (its parent) dies: PR_SET_PDEATHSIG where Linux offers it, and a
    watchdog thread polling the parent pid (re-parented to init or a subreaper when the parent died)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(WATCHDOG_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="hmodel-parent-watchdog", daemon=True).start()


def _init_pool_worker(counter, plan, parent_pid=None, out=None):
    from .allocator import tune_allocator

    tune_allocator()  # a spawned worker runs no entry point: opt in as `hmodel` does
    if parent_pid is not None:
        die_with_parent(parent_pid)
    if out is not None:
        from .store import record_worker

        record_worker(out)
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    _pin_process(plan[index % len(plan)])


def _pin_dask_worker(plan: dict, dask_worker=None):
    _pin_process(plan[dask_worker.address])


def _dask_die_with_parent(dask_worker=None):
    die_with_parent(os.getppid())


class LocalBackend:
    """This machine: sequential in this process (workers=1), or a pool of ``workers`` processes started
    with 'spawn' (JAX is not fork-safe)."""

    def __init__(self, workers: int = 1):
        self.workers = check_int("workers", workers, 1, 1024)

    def __repr__(self):
        return f"LocalBackend(workers={self.workers})"

    def execute(self, fn, tasks, out, on_row):
        if self.workers == 1:
            for task in tasks:
                yield task, fn(task, on_row)
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = mp.get_context("spawn")
        plan = worker_cores(self.workers)
        with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_pool_worker,
                                 initargs=(ctx.Value("i", 0), plan, os.getpid(), str(out))) as ex:
            futures = {ex.submit(fn, task, str(out)): task for task in tasks}
            try:
                for fut in as_completed(futures):
                    yield futures[fut], fut.result()
            finally:
                for fut in futures:
                    fut.cancel()


class DaskBackend:
    """Dask distributed: ``n_workers`` starts a LocalCluster of single-threaded worker processes (pinned
    to disjoint cores); ``scheduler='tcp://HOST:PORT'`` joins a running cluster (its workers must have
    this package installed)."""

    def __init__(self, n_workers: int | None = None, scheduler: str | None = None):
        if (n_workers is None) == (scheduler is None):
            raise ValueError("Dask backend: give exactly one of n_workers (a LocalCluster) and scheduler (an address)")
        self.n_workers = None if n_workers is None else check_int("dask_local", n_workers, 1, 1024)
        if scheduler is not None and not re.fullmatch(r"(tcp|tls|inproc|ucx|ws|wss)://[^\s:/]+(:\d+)?/?", scheduler):
            raise ValueError(f"scheduler={scheduler!r} is not allowed: must be an address like tcp://HOST:PORT")
        self.scheduler = scheduler

    def __repr__(self):
        return f"DaskBackend(n_workers={self.n_workers}, scheduler={self.scheduler!r})"

    def execute(self, fn, tasks, out, on_row):
        import logging

        from distributed import Client, LocalCluster, as_completed

        cluster = None
        if self.scheduler is None:
            cluster = LocalCluster(n_workers=self.n_workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
        else:
            client = Client(self.scheduler)
        try:
            if cluster is not None:
                addresses = sorted(client.scheduler_info()["workers"])
                client.run(_pin_dask_worker, dict(zip(addresses, worker_cores(len(addresses)))))
                client.run(_dask_die_with_parent)
            futures = {client.submit(fn, task, None, pure=False): task for task in tasks}
            for fut in as_completed(list(futures)):
                yield futures[fut], fut.result()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def make_backend(backend=None, *, workers: int | None = None, dask_local: int | None = None,
                 scheduler: str | None = None):
    """A backend object from the command-line choices (at most one of workers, dask_local, scheduler),
    or ``backend`` itself when it is one already ('local' / 'dask' strings accepted)."""
    if backend is not None and not isinstance(backend, str):
        return backend
    chosen = [k for k, v in (("workers", workers), ("dask_local", dask_local), ("scheduler", scheduler)) if v is not None]
    if len(chosen) > 1:
        raise ValueError(f"backend: {' and '.join(chosen)} cannot be combined: choose one")
    if backend not in (None, "local", "dask"):
        raise ValueError(f"backend={backend!r} is not allowed: must be 'local' or 'dask'")
    if dask_local is not None or scheduler is not None or backend == "dask":
        return DaskBackend(dask_local if dask_local is not None or scheduler is not None else os.cpu_count(), scheduler)
    return LocalBackend(1 if workers is None else workers)
