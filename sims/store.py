"""The results store of a sweep: a folder DIR holding

    DIR/sweep.json       the grid and its configurations (hashes), written once, atomically
    DIR/runs.parquet     the tidy table, one row per (config_hash, seed, n) (the results table contract)
    DIR/parts/*.json     rows finished since the last consolidation, one file per row
    DIR/spectra/*.npz    per row: top_eigs, eig_tags, and the whole spectrum of C when it was kept

Every file is written atomically (temporary name in the same folder, fsync, os.replace, fsync of the
folder), so a reader or a restarted sweep sees each file whole or not at all, whenever the writer was
killed. A row's spectrum is written before its part, so a row on disk always has its spectrum.
`consolidate` merges the parts into runs.parquet under a lock; `load_results` merges runs.parquet and
any parts, keeping one row per key, so a reader never sees a duplicate.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["ResultsStore", "load_results", "load_spectrum", "row_key", "rows_to_table", "atomic_write_bytes",
           "ROW_KEY", "LIST_COLUMNS", "LOCK_FILES"]

LOCK_FILES = (".lock", ".sweep.lock")  # advisory locks (see ResultsStore.lock), not results

ROW_KEY = ("config_hash", "seed", "n")
LIST_COLUMNS = ("cos2", "ang_err", "lam", "top_eigs", "eig_tags", "eig_overlaps")
_INT = ("n", "d", "q", "D", "d1", "seed", "recovered", "n_test", "passes")
_FLOAT = ("gamma", "eps", "qh", "mse", "nmse", "var_y", "ridge", "seconds", "time_layer1", "time_layer2_readout",
          "time_test", "alpha", "sigma", "clip_quantile")
_STR = ("g", "input_model", "engine", "config_hash", "version", "a_kind", "label_transform", "estimator")
_BOOL = ("nested", "fresh_split")


def row_key(config_hash: str, seed: int, n: int) -> str:
    """File-name key of a row: '<config_hash>-s<seed>-n<n>'."""
    return f"{config_hash}-s{int(seed)}-n{int(n)}"


def _schema(columns):
    import pyarrow as pa

    types = {**{c: pa.int64() for c in _INT}, **{c: pa.float64() for c in _FLOAT}, **{c: pa.string() for c in _STR},
             **{c: pa.bool_() for c in _BOOL}, **{c: pa.list_(pa.float64()) for c in LIST_COLUMNS}}
    types["eig_tags"] = pa.list_(pa.int64())
    return pa.schema([(c, types.get(c, pa.float64())) for c in columns])  # unknown columns: extra timings


def rows_to_table(rows: list[dict]):
    """A pyarrow Table of row dicts with the store's fixed column types (ints stay int64 even when a
    reader's JSON gave floats; list columns are list<double>, eig_tags list<int64>)."""
    import pyarrow as pa

    columns = list(dict.fromkeys(c for r in rows for c in r)) if rows else list(_INT + _FLOAT + _STR + _BOOL + LIST_COLUMNS)
    return pa.Table.from_pylist(rows, schema=_schema(columns))


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that no reader ever sees a partial file: a temporary file in the
    same folder, fsync, os.replace (atomic on POSIX), then fsync of the folder (the rename is durable)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
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


def _table_bytes(table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


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
        if not self.manifest_path.exists():
            return None
        return json.loads(self.manifest_path.read_text())

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

    def _part_rows(self):
        files = sorted(self.parts.glob("*.json")) if self.parts.exists() else []
        rows = []
        for f in files:
            try:
                rows.append(json.loads(f.read_text()))
            except FileNotFoundError:  # consolidated by another process meanwhile: it is in runs.parquet now
                continue
        return files, rows

    def load(self):
        """All rows (runs.parquet, then the parts), one per key, sorted by d, config_hash, seed, n."""
        import pandas as pd
        import pyarrow.parquet as pq

        tables = []
        if self.table_path.exists():
            tables.append(pq.read_table(self.table_path).to_pandas())
        _, rows = self._part_rows()
        if rows:
            tables.append(rows_to_table(rows).to_pandas())
        if not tables:
            return rows_to_table([]).to_pandas()
        df = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
        df = df.drop_duplicates(subset=list(ROW_KEY), keep="first")
        return df.sort_values(["d", "config_hash", "seed", "n"], kind="stable").reset_index(drop=True)

    def done_keys(self) -> set:
        """Keys of the rows on disk (runs.parquet and parts)."""
        keys = set()
        if self.table_path.exists():
            import pyarrow.parquet as pq

            t = pq.read_table(self.table_path, columns=list(ROW_KEY)).to_pydict()
            keys.update(row_key(h, s, n) for h, s, n in zip(t["config_hash"], t["seed"], t["n"]))
        if self.parts.exists():
            keys.update(f.stem for f in self.parts.glob("*.json"))
        return keys

    @contextlib.contextmanager
    def lock(self, name: str = ".lock", wait: bool = True):
        """An exclusive advisory lock on DIR/<name> (released by the kernel if the holder dies).
        With wait=False, raise ValueError when another process holds it."""
        import fcntl

        fd = os.open(self.path / name, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise ValueError(f"out={str(self.path)!r} is in use: another sweep is writing to it") from None
            yield
        finally:
            os.close(fd)

    def consolidate(self) -> int:
        """Merge the parts into runs.parquet (atomically, under the lock), then delete the merged parts.
        Returns the number of rows in runs.parquet. A kill at any point leaves every row on disk once
        in runs.parquet or a part, or in both (readers de-duplicate)."""
        with self.lock():
            files, rows = self._part_rows()
            if not rows and self.table_path.exists():
                import pyarrow.parquet as pq

                return pq.read_metadata(self.table_path).num_rows
            import pyarrow as pa

            df = self.load()
            table = pa.Table.from_pandas(df, schema=_schema(df.columns), preserve_index=False)
            atomic_write_bytes(self.table_path, _table_bytes(table))
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
    """The arrays saved for one row: top_eigs, eig_tags and, when kept, spectrum (all eigenvalues of C)."""
    with np.load(Path(path) / "spectra" / f"{row_key(config_hash, seed, n)}.npz") as z:
        return {k: z[k] for k in z.files}
