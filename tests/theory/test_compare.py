"""theory.compare: seed means over several data streams per teacher, and the error bars of the comparison."""

import numpy as np
import pytest

import hierarchical_model as hm
from theory.compare import STREAM_STRIDE, compare, format_table

CFG = hm.TeacherConfig(d=10, eps=0.5, gamma=0.4, g="tanh")
NS = [1000, 4000]


@pytest.fixture(scope="module")
def two_streams():
    return compare(CFG, NS, seeds=(0, 1, 2), n_test=500, n_mc=20_000, streams=2)


@pytest.fixture(scope="module")
def stream_cos2():
    """(S, streams, N, d1): cos^2 of teacher s on stream k (data seed s + k * STREAM_STRIDE), from run_path."""
    return np.array([[[r.cos2 for r in hm.run_path(CFG, NS, s, n_test=500, engine="dense", data_seed=s + k * STREAM_STRIDE)]
                      for k in range(2)] for s in (0, 1, 2)])


def test_compare_averages_each_teacher_over_its_streams(two_streams, stream_cos2):
    """The simulated cos^2 is the mean over seeds of each teacher's mean over streams, recomputed from run_path."""
    cos2 = stream_cos2
    np.testing.assert_allclose(two_streams["sim_cos2"], cos2.mean(axis=(0, 1)), atol=1e-12)
    # the two streams of a teacher are different data: the data's own error bar is positive, and it is the
    # across-stream variance, sqrt(sum_s var_s / 2) / 3
    data_se = np.sqrt(cos2.var(axis=1, ddof=1).sum(axis=0) / 2) / 3
    np.testing.assert_allclose(two_streams["data_se_cos2"], data_se, atol=1e-12)
    assert np.all(two_streams["data_se_cos2"] > 0)


def test_compare_error_bar_is_the_spread_of_paired_differences(two_streams, stream_cos2):
    """se = sd over seeds of (teacher's simulated mean - its own prediction) / sqrt(S): the prediction of each
    seed is subtracted before the spread is taken, so the teacher-to-teacher variation the theory predicts does
    not widen the bar."""
    from theory import predict

    preds = np.array([predict(CFG, NS, seed=s, n_mc=20_000).cos2 for s in (0, 1, 2)])
    assert two_streams["pred_cos2"] == pytest.approx(preds.mean(axis=0))
    paired = stream_cos2.mean(axis=1) - preds  # (S, N, d1)
    np.testing.assert_allclose(two_streams["se_cos2"], paired.std(axis=0, ddof=1) / np.sqrt(3), atol=1e-12)
    # the teacher-to-teacher spread of cos^2 itself is wider than that of the paired differences somewhere
    assert np.any(stream_cos2.mean(axis=1).std(axis=0, ddof=1) / np.sqrt(3) > two_streams["se_cos2"])
    assert two_streams["se_qh"].shape == (len(NS),)
    table = format_table(two_streams)
    assert table.count("±") == len(NS) * (1 + two_streams["sim_cos2"].shape[1])


def test_one_seed_or_one_stream_has_no_error_bar_and_bad_streams_is_refused():
    one = compare(CFG, [1000], seeds=(0,), n_test=500, n_mc=20_000)
    assert np.all(np.isnan(one["se_cos2"])) and np.all(np.isnan(one["data_se_cos2"]))
    assert "±" not in format_table(one)
    with pytest.raises(ValueError, match="streams"):
        compare(CFG, [1000], seeds=(0,), streams=0)
