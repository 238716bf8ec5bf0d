"""Properties of the results store (hypothesis): any rows written come back as written, through the parts and
through runs.parquet, and any interleaving of writes, rewrites and consolidations (a sweep killed and resumed
any number of times) leaves one row per key, the first consolidated value winning over a later rewrite."""

import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from sims.store import ResultsStore, load_results, row_key

FLOATS = st.floats(allow_nan=False, width=64)  # infinities included (an NMSE with Var y = 0 is inf)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)  # any unicode that UTF-8 can hold


@st.composite
def rows(draw, hashes=("a1", "b2"), seeds=3):
    """A row of the results table: its key (few hashes, seeds and sizes, so that keys repeat), and values of
    every kind of column the store types (int, float, str, bool, list<double>, list<int64>)."""
    d1 = draw(st.integers(1, 4))
    return {"config_hash": draw(st.sampled_from(hashes)), "seed": draw(st.integers(0, seeds - 1)),
            "n": draw(st.sampled_from([10, 2**40])), "d": draw(st.integers(2, 10**6)), "qh": draw(FLOATS),
            "nmse": draw(FLOATS), "g": draw(TEXT), "nested": draw(st.booleans()),
            "cos2": draw(st.lists(FLOATS, min_size=d1, max_size=d1)),
            "eig_tags": draw(st.lists(st.integers(-(2**62), 2**62), min_size=d1, max_size=d1))}


def _key(r):
    return row_key(r["config_hash"], r["seed"], r["n"])


def _as_written(df) -> dict:
    """{key: row} of a loaded table, values as plain Python (lists for the list columns)."""
    out = {}
    for rec in df.to_dict("records"):
        rec = {k: (list(v) if isinstance(v, np.ndarray) else v) for k, v in rec.items()}
        out[_key(rec)] = rec
    return out


def _same(got: dict, want: dict) -> bool:
    for col, v in want.items():
        g = got[col]
        if isinstance(v, list):
            if [float(x) for x in g] != [float(x) for x in v] or (col == "eig_tags" and [int(x) for x in g] != v):
                return False
        elif isinstance(v, float):
            if float(g) != v:
                return False
        elif g != v or (isinstance(v, bool) and not isinstance(g, (bool, np.bool_))):
            return False
    return True


def _check(store: ResultsStore, model: dict) -> None:
    got = _as_written(load_results(store.path))
    assert set(got) == set(model) == store.done_keys()
    for key, row in model.items():
        assert _same(got[key], row), (key, got[key], row)


# no example database, and hypothesis's own caches in a temporary folder: the tests write nothing in the checkout
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="hypothesis-"))
SETTINGS = settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(rows(), min_size=1, max_size=6))
def test_rows_come_back_as_written_from_parts_and_from_runs_parquet(batch):
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultsStore(tmp)
        store.create({"format": "test"})
        for r in batch:
            store.write_row(r)
        model = {_key(r): r for r in batch}  # a part rewritten for the same key: the last write is on disk
        _check(store, model)
        n = store.consolidate()
        assert n == len(model) and not list(store.parts.iterdir())
        _check(store, model)
        table = store.table_path.read_bytes()
        assert store.consolidate() == n and store.table_path.read_bytes() == table  # idempotent: nothing to merge


@SETTINGS
@given(st.lists(st.one_of(rows(hashes=("a1",), seeds=2), st.just("consolidate")), min_size=1, max_size=12))
def test_any_interleaving_of_writes_and_consolidations_keeps_one_row_per_key(ops):
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultsStore(tmp)
        store.create({"format": "test"})
        table, parts = {}, {}  # the model: what runs.parquet and the parts hold
        for op in ops:
            if op == "consolidate":
                for key, r in parts.items():
                    table.setdefault(key, r)  # runs.parquet wins over a later rewrite of its row
                parts.clear()
                assert store.consolidate() == len(table)
            else:
                store.write_row(op)
                parts[_key(op)] = op
            _check(store, {**parts, **table})
        store.create({"format": "test"})  # a resumed sweep opens the folder again: nothing lost, nothing added
        _check(store, {**parts, **table})
