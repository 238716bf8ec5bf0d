"""What a results folder holds, as data: the key of a row, the column types of the results table (the results
table contract), the check that a part file holds a row of its key, and the check of a sweep's manifest
(DIR/sweep.json). No file is touched here (`sims.store` reads and writes).
"""

from __future__ import annotations

__all__ = ["ROW_KEY", "LIST_COLUMNS", "MANIFEST_KEYS", "CONFIG_KEYS", "row_key", "table_schema", "rows_to_table",
           "row_problem", "check_manifest"]

ROW_KEY = ("config_hash", "seed", "n")
LIST_COLUMNS = ("cos2", "ang_err", "lam", "top_eigs", "eig_tags", "eig_overlaps", "principal_cos2")
_INT = ("n", "d", "q", "D", "d1", "seed", "recovered", "n_test", "passes")
_FLOAT = ("gamma", "eps", "qh", "mse", "nmse", "var_y", "ridge", "seconds", "time_layer1", "time_layer2_readout",
          "time_test", "alpha", "sigma", "clip_quantile", "eig_residual", "krylov_tol")
_STR = ("g", "input_model", "engine", "config_hash", "version", "a_kind", "label_transform", "estimator", "conventions")
_BOOL = ("nested", "fresh_split", "converged")
MANIFEST_KEYS = {"format": str, "grid": dict, "configs": list}
CONFIG_KEYS = {"config_hash": str, "label": str, "ns": list}


def row_key(config_hash: str, seed: int, n: int) -> str:
    """File-name key of a row: '<config_hash>-s<seed>-n<n>'."""
    return f"{config_hash}-s{int(seed)}-n{int(n)}"


def table_schema(columns):
    """The pyarrow schema of a results table with these columns (the fixed types above; an unknown column is a
    float: an extra timing)."""
    import pyarrow as pa

    types = {**{c: pa.int64() for c in _INT}, **{c: pa.float64() for c in _FLOAT}, **{c: pa.string() for c in _STR},
             **{c: pa.bool_() for c in _BOOL}, **{c: pa.list_(pa.float64()) for c in LIST_COLUMNS}}
    types["eig_tags"] = pa.list_(pa.int64())
    return pa.schema([(c, types.get(c, pa.float64())) for c in columns])


def rows_to_table(rows: list[dict]):
    """A pyarrow Table of row dicts with the store's fixed column types (ints stay int64 even when a
    reader's JSON gave floats; list columns are list<double>, eig_tags list<int64>)."""
    import pyarrow as pa

    columns = list(dict.fromkeys(c for r in rows for c in r)) if rows else list(_INT + _FLOAT + _STR + _BOOL + LIST_COLUMNS)
    return pa.Table.from_pylist(rows, schema=table_schema(columns))


def row_problem(row, stem: str) -> str:
    """Why a part's content is not a valid row of the file's key ('' when it is one)."""
    if not isinstance(row, dict):
        return f"a JSON {type(row).__name__}, not a row"
    missing = [k for k in ROW_KEY if k not in row]
    if missing:
        return f"no {missing[0]!r}"
    try:
        key = row_key(row["config_hash"], row["seed"], row["n"])
        rows_to_table([row])  # the column types of the results table
    except Exception as exc:  # noqa: BLE001 - any value that the table refuses
        return f"a value of the wrong type ({type(exc).__name__})"
    return "" if key == stem else f"its key {key} is not the file's"


def check_manifest(m, name: str) -> dict:
    """The parsed DIR/sweep.json ``m`` when it is a sweep's manifest: a JSON object with its format, grid (with
    seeds and the independent flag) and configurations (each with its hash, label and sizes); ValueError naming
    the file ``name`` otherwise."""
    if not isinstance(m, dict):
        raise ValueError(f"sweep.json={name!r} holds a JSON {type(m).__name__}: must be an object with keys "
                         f"{', '.join(MANIFEST_KEYS)}")
    for key, kind in MANIFEST_KEYS.items():
        if not isinstance(m.get(key), kind):
            raise ValueError(f"sweep.json={name!r} lacks {key!r} (or it is not a {kind.__name__}): not a sweep's manifest")
    for i, c in enumerate(m["configs"]):
        for key, kind in CONFIG_KEYS.items():
            if not isinstance(c, dict) or not isinstance(c.get(key), kind):
                raise ValueError(f"sweep.json={name!r}: configs[{i}] lacks {key!r}: not a sweep's manifest")
    if not isinstance(m["grid"].get("seeds"), list) or not isinstance(m["grid"].get("independent"), bool):
        raise ValueError(f"sweep.json={name!r}: its grid lacks 'seeds' or 'independent': not a sweep's manifest")
    return m
