"""The results store of a sweep: a folder DIR holding

    DIR/sweep.json       the grid and its configurations (hashes), written once, atomically
    DIR/runs.parquet     the tidy table, one row per (config_hash, seed, n) (the results table contract)
    DIR/parts/*.json     rows finished since the last consolidation, one file per row
    DIR/spectra/*.npz    per row: top_eigs, eig_tags, and the whole spectrum of C when it was kept
    DIR/quarantine/      files found corrupted (a part, a spectrum, runs.parquet), moved aside with a warning;
                         their rows count as missing, so the next sweep recomputes them

Every file is written atomically (temporary name in the same folder, fsync, os.replace, fsync of the
folder), so a reader or a restarted sweep sees each file whole or not at all, whenever the writer was
killed. A row's spectrum is written before its part, so a row on disk always has its spectrum.
`consolidate` merges the parts into runs.parquet under a lock; `load_results` merges runs.parquet and
any parts, keeping one row per key, so a reader never sees a duplicate. Files get the mode that the
umask gives a new file (0o666 & ~umask), as `open` would.

The sweep lock DIR/.sweep.lock records the pid (and start time) of the sweep holding it and of each of its
worker processes; a sweep finding live processes recorded there by a killed sweep refuses the folder
(`ResultsStore.claim`).

Here: the folder and its reading (`ResultsStore`, `load_results`, `load_spectrum`); the row key, column types and
manifest check are in `sims.store_schema`, the atomic writes in `sims.store_io`, the lock's process records in
`sims.store_lock`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .store_io import atomic_write_bytes, table_bytes, warn
from .store_lock import alive, lock_record, lock_records, record_worker
from .store_schema import LIST_COLUMNS, ROW_KEY, check_manifest, row_key, row_problem, rows_to_table, table_schema

# row_key, rows_to_table, atomic_write_bytes, LIST_COLUMNS and record_worker are imported from here by the sweep,
# its backends, the figures and the tests: the store's public names, defined in the modules above
__all__ = ["ResultsStore", "load_results", "load_spectrum", "row_key", "rows_to_table", "atomic_write_bytes",
           "ROW_KEY", "LIST_COLUMNS", "LOCK_FILES", "record_worker"]

LOCK_FILES = (".lock", ".sweep.lock")  # advisory locks (see ResultsStore.lock), not results
QUARANTINE = "quarantine"


class ResultsStore:
    """The files of one results folder. Creating the object touches nothing on disk."""

    def __init__(self, path):
        self.path = Path(path)
        self.parts = self.path / "parts"
        self.spectra = self.path / "spectra"
        self.manifest_path = self.path / "sweep.json"
        self.table_path = self.path / "runs.parquet"

    # ---- manifest ---------------------------------------------------------------------------------
    def read_manifest(self) -> dict | None:
        """DIR/sweep.json, checked: a regular file holding a JSON object with its format, grid and configurations
        (ValueError naming the file otherwise); None when there is none."""
        from .guards import check_input_file

        if not os.path.lexists(self.manifest_path):
            return None
        name = str(self.manifest_path)
        check_input_file("sweep.json", self.manifest_path)
        try:
            m = json.loads(self.manifest_path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"sweep.json={name!r} is not valid JSON ({type(exc).__name__} at byte "
                             f"{getattr(exc, 'pos', getattr(exc, 'start', '?'))}): restore it or use a new folder") from None
        return check_manifest(m, name)

    def create(self, manifest: dict) -> None:
        """Make the folders and write sweep.json (if not there yet)."""
        self.path.mkdir(parents=True, exist_ok=True)
        if not self.manifest_path.exists():  # first, so that a folder holding anything else has sweep.json
            atomic_write_bytes(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True).encode())
        self.parts.mkdir(exist_ok=True)
        self.spectra.mkdir(exist_ok=True)
        with self.lock():  # not under a consolidation writing its temporary file
            for stale in [*self.parts.glob(".*.tmp"), *self.spectra.glob(".*.tmp"), *self.path.glob(".*.tmp")]:
                with contextlib.suppress(OSError):  # leftovers of a killed writer: never renamed, never read
                    stale.unlink()

    # ---- rows -------------------------------------------------------------------------------------
    def has_part(self, key: str) -> bool:
        return (self.parts / f"{key}.json").exists()

    def write_row(self, row: dict, spectrum: dict | None = None) -> None:
        """Write one row (its spectrum first, then its part); rewriting the same row is harmless."""
        key = row_key(row["config_hash"], row["seed"], row["n"])
        if spectrum is not None:
            buf = io.BytesIO()
            np.savez(buf, **{k: np.asarray(v) for k, v in spectrum.items() if v is not None})
            atomic_write_bytes(self.spectra / f"{key}.npz", buf.getvalue())
        atomic_write_bytes(self.parts / f"{key}.json", json.dumps(row).encode())

    def quarantine(self, path, reason: str) -> None:
        """Move a corrupted file to DIR/quarantine/ (never deleting data) with one warning line naming it."""
        path = Path(path)
        dest_dir = self.path / QUARANTINE
        try:
            dest_dir.mkdir(exist_ok=True)
            dest = dest_dir / path.name
            k = 1
            while dest.exists():
                dest, k = dest_dir / f"{path.name}.{k}", k + 1
            os.replace(path, dest)
        except FileNotFoundError:
            return  # moved or consolidated by another process meanwhile
        except OSError as exc:
            warn(f"{path} is corrupted ({reason}) and could not be moved aside ({exc.strerror}): it is ignored")
            return
        warn(f"{path.relative_to(self.path)} is corrupted ({reason}): moved to {dest.relative_to(self.path)}; "
             "its row counts as missing and is recomputed by the next sweep")

    def _read_part(self, f: Path):
        """The row of a part file, or None (after quarantining it) when it is not a valid row of its key."""
        try:
            row = json.loads(f.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            raise
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.quarantine(f, f"not JSON: {type(exc).__name__}")
            return None
        reason = row_problem(row, f.stem)
        if reason:
            self.quarantine(f, reason)
            return None
        return row

    def _part_rows(self):
        files = sorted(self.parts.glob("*.json")) if self.parts.exists() else []
        kept, rows = [], []
        for f in files:
            try:
                row = self._read_part(f)
            except FileNotFoundError:  # consolidated by another process meanwhile: it is in runs.parquet now
                continue
            if row is not None:
                kept.append(f)
                rows.append(row)
        return kept, rows

    def _read_table(self, columns=None):
        """runs.parquet as a pyarrow Table (None when absent; quarantined with a warning when unreadable)."""
        import pyarrow.parquet as pq

        if not self.table_path.exists():
            return None
        try:
            return pq.read_table(self.table_path, columns=columns)
        except Exception as exc:  # noqa: BLE001 - any unreadable table is a corrupted file
            self.quarantine(self.table_path, f"unreadable parquet: {type(exc).__name__}")
            return None

    def spectrum_ok(self, key: str) -> bool:
        """Whether the row's spectrum file is present and whole; a corrupted one is quarantined."""
        f = self.spectra / f"{key}.npz"
        if not f.exists():
            return False
        try:
            with zipfile.ZipFile(f) as z:
                if z.testzip() is not None or not {"top_eigs.npy", "eig_tags.npy"} <= set(z.namelist()):
                    raise zipfile.BadZipFile("missing or damaged arrays")
            return True
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            self.quarantine(f, f"not a spectra archive: {exc}")
            return False

    def load(self):
        """All rows (runs.parquet, then the parts), one per key, sorted by d, config_hash, seed, n."""
        import pandas as pd

        tables = []
        table = self._read_table()
        if table is not None:
            tables.append(table.to_pandas())
        _, rows = self._part_rows()
        if rows:
            tables.append(rows_to_table(rows).to_pandas())
        if not tables:
            return rows_to_table([]).to_pandas()
        df = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
        df = df.drop_duplicates(subset=list(ROW_KEY), keep="first")
        return df.sort_values(["d", "config_hash", "seed", "n"], kind="stable").reset_index(drop=True)

    def done_keys(self, verify: bool = False) -> set:
        """Keys of the rows on disk (runs.parquet and parts). ``verify``: parse every part and check every
        row's spectrum file, quarantining corrupted ones, whose rows then count as missing."""
        keys = set()
        t = self._read_table(columns=list(ROW_KEY)) if verify or self.table_path.exists() else None
        if t is not None:
            t = t.to_pydict()
            keys.update(row_key(h, s, n) for h, s, n in zip(t["config_hash"], t["seed"], t["n"]))
        if verify:
            keys.update(f.stem for f in self._part_rows()[0])
            keys = {k for k in keys if self.spectrum_ok(k)}
        elif self.parts.exists():
            keys.update(f.stem for f in self.parts.glob("*.json"))
        return keys

    @contextlib.contextmanager
    def lock(self, name: str = ".lock", wait: bool = True):
        """An exclusive advisory lock on DIR/<name> (released by the kernel if the holder dies).
        With wait=False, raise ValueError when another process holds it."""
        import fcntl

        fd = os.open(self.path / name, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise ValueError(f"out={str(self.path)!r} is in use: another sweep is writing to it") from None
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def claim(self):
        """The sweep lock (wait=False), refusing a folder still written by live processes of a killed sweep
        (recorded in the lock file), then recording this process as the holder."""
        with self.lock(".sweep.lock", wait=False):
            lock_path = self.path / ".sweep.lock"
            live = [pid for pid, start in lock_records(lock_path) if pid != os.getpid() and alive(pid, start)]
            if live:
                pids = " ".join(map(str, live))
                raise ValueError(f"out={str(self.path)!r} is in use by processes {pids} of a sweep that was killed (workers "
                                 f"still running): wait for them to finish or end them (kill {pids}), then rerun")
            with open(lock_path, "w") as fh:  # truncates: the old records are dead
                fh.write(lock_record(os.getpid()))
            yield

    def consolidate(self) -> int:
        """Merge the parts into runs.parquet (atomically, under the lock), then delete the merged parts.
        Returns the number of rows in runs.parquet. A kill at any point leaves every row on disk once
        in runs.parquet or a part, or in both (readers de-duplicate)."""
        with self.lock():
            files, rows = self._part_rows()
            if not rows and self.table_path.exists():
                table = self._read_table(columns=list(ROW_KEY))
                if table is not None:
                    return table.num_rows
            import pyarrow as pa

            df = self.load()
            table = pa.Table.from_pandas(df, schema=table_schema(df.columns), preserve_index=False)
            atomic_write_bytes(self.table_path, table_bytes(table))
            for f in files:
                with contextlib.suppress(FileNotFoundError):
                    f.unlink()
            return len(df)


def load_results(path):
    """The results table of a sweep folder as a pandas DataFrame: runs.parquet merged with any parts not
    consolidated yet (a sweep in progress or killed), one row per (config_hash, seed, n)."""
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"results folder {str(path)!r} does not exist")
    return ResultsStore(path).load()


def load_spectrum(path, config_hash: str, seed: int, n: int) -> dict:
    """The arrays saved for one row: top_eigs, eig_tags and, when kept, spectrum (all eigenvalues of C).
    FileNotFoundError when there is none; a corrupted file is quarantined (one warning) and reported as missing."""
    key = row_key(config_hash, seed, n)
    store = ResultsStore(path)
    f = store.spectra / f"{key}.npz"
    if f.exists() and not store.spectrum_ok(key):
        raise FileNotFoundError(f"{f} was corrupted and is now in {store.path / QUARANTINE}")
    with np.load(f, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
