"""The results store: atomic writes, merge of parts and runs.parquet without duplicates, spectra."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from sims.store import ResultsStore, atomic_write_bytes, load_results, load_spectrum, row_key


def fake_row(h="abc", seed=0, n=100, qh=0.5):
    return {"n": n, "d": 12, "q": 2, "D": 78, "d1": 3, "gamma": 0.4, "g": "tanh", "seed": seed,
            "input_model": "hermite", "engine": "dense", "eps": 0.5, "qh": qh, "cos2": [0.1, 0.2, 0.3],
            "ang_err": [0.9, 0.8, 0.7], "lam": [0.7, -0.5, 0.4], "top_eigs": [1.0, -0.5, 0.2], "eig_tags": [1, 2, 2],
            "eig_overlaps": [0.4, 0.3, 0.2], "recovered": 0, "mse": 0.3, "nmse": math.inf, "var_y": 0.3,
            "ridge": 1e-3, "n_test": 1000, "passes": 1, "seconds": 0.5, "time_layer1": 0.3,
            "time_layer2_readout": 0.1, "time_test": 0.1, "config_hash": h, "alpha": math.log(n) / math.log(12),
            "version": "0.1.0", "sigma": 0.0, "a_kind": "orthonormal", "label_transform": "identity",
            "clip_quantile": 0.99, "fresh_split": False, "nested": True}


def test_atomic_write_leaves_only_the_final_file(tmp_path):
    atomic_write_bytes(tmp_path / "a.bin", b"one")
    atomic_write_bytes(tmp_path / "a.bin", b"two")
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]
    assert (tmp_path / "a.bin").read_bytes() == b"two"


def test_parts_and_table_merge_without_duplicates(tmp_path):
    store = ResultsStore(tmp_path / "r")
    store.create({"format": "test"})
    spectra = {"top_eigs": [1.0, -0.5, 0.2], "eig_tags": [1, 2, 2], "spectrum": np.linspace(-1, 1, 78)}
    store.write_row(fake_row(n=100), spectra)
    store.write_row(fake_row(n=200))
    assert store.consolidate() == 2
    assert list(store.parts.iterdir()) == []
    # a row rewritten after consolidation (a resumed task) and a new one: still one row per key
    store.write_row(fake_row(n=200, qh=0.9))
    store.write_row(fake_row(n=400, seed=1))
    df = load_results(store.path)
    assert len(df) == 3 and not df.duplicated(["config_hash", "seed", "n"]).any()
    assert df.loc[df.n == 200, "qh"].item() == 0.5  # runs.parquet wins over a later duplicate part
    assert store.consolidate() == 3 and store.consolidate() == 3
    table = pd.read_parquet(store.table_path)  # the one-line reader of the contract
    assert len(table) == 3 and table["n"].dtype == np.int64 and table["nested"].dtype == bool
    assert list(table.loc[0, "eig_tags"]) == [1, 2, 2] and math.isinf(table.loc[0, "nmse"])
    assert np.array_equal(table.loc[0, "cos2"], [0.1, 0.2, 0.3])
    z = load_spectrum(store.path, "abc", 0, 100)
    assert np.array_equal(z["spectrum"], np.linspace(-1, 1, 78)) and list(z["eig_tags"]) == [1, 2, 2]
    assert store.done_keys() == {row_key("abc", 0, 100), row_key("abc", 0, 200), row_key("abc", 1, 400)}


def test_stale_temporary_files_are_ignored_and_removed(tmp_path):
    store = ResultsStore(tmp_path / "r")
    store.create({"format": "test"})
    store.write_row(fake_row())
    (store.parts / ".killed-writer.tmp").write_text('{"n": 1')  # what a SIGKILL mid-write leaves
    assert len(load_results(store.path)) == 1
    store.create({"format": "test"})
    assert sorted(p.name for p in store.parts.iterdir()) == [row_key("abc", 0, 100) + ".json"]
    assert json.loads((store.path / "sweep.json").read_text()) == {"format": "test"}


def test_lock_refuses_a_second_holder(tmp_path):
    store = ResultsStore(tmp_path)
    with store.lock(".sweep.lock", wait=False):
        with pytest.raises(ValueError, match="in use"):
            with ResultsStore(tmp_path).lock(".sweep.lock", wait=False):
                pass


def test_load_results_of_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_results(tmp_path / "nope")
