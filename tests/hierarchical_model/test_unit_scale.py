"""fit(X, y) and the unit scale x ~ N(0, I) that the Hermite features assume (issue 14, item 3)."""

import re

import numpy as np
import pytest

import hierarchical_model as hm
from hierarchical_model.learner import input_transform


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.tanh(X[:, 0] * X[:, 1] + 0.5 * (X[:, 2] ** 2 - 1)) + 0.1 * rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize("n", [5, 12, 40, 400, 4000])
def test_genuine_standard_gaussian_inputs_pass_the_check(n):
    # the bounds are the 1e-9 tails of a N(0, 1) column's sample mean and standard deviation (times 1.5):
    # 50 draws of 30 columns must all pass, while a false refusal has probability < 2e-9 per column
    for seed in range(50):
        mean, scale = input_transform(np.random.default_rng(seed).standard_normal((n, 30)), standardize=False)
        assert np.all(mean == 0) and np.all(scale == 1)


@pytest.mark.parametrize("transform,fragment", [
    (lambda X: 10 * X, r"standard deviation (9|10|11)\."),
    (lambda X: X + 50, r"mean (49|50)\."),
    (lambda X: 2.5 * X, r"standard deviation 2\.[2-8]"),
    (lambda X: np.where(np.arange(X.shape[1]) == 3, 0.05 * X, X), r"column 3 has mean \S+ and standard deviation 0\.0"),
])
def test_off_scale_inputs_are_refused_saying_how_far(transform, fragment):
    X, y = _data(400, 6)
    with pytest.raises(ValueError, match="off the unit scale") as err:
        hm.HierarchicalSpectralLearner(2).fit(transform(X), y)
    assert re.search(fragment, str(err.value)) and "standardize=True" in str(err.value), str(err.value)


def test_standardize_learns_the_transform_and_applies_it_in_predict_and_evaluate():
    X, y = _data(3000, 6)
    Xt, yt = _data(1000, 6, seed=1)
    a, b = np.linspace(1, 12, 6), np.linspace(-40, 40, 6)  # each column its own scale and offset
    L = hm.HierarchicalSpectralLearner(2, standardize=True).fit(a * X + b, y)
    np.testing.assert_allclose(L.x_mean_, (a * X + b).mean(axis=0))
    np.testing.assert_allclose(L.x_scale_, (a * X + b).std(axis=0, ddof=1))
    # the same fit as on the standardised inputs themselves (which are on the unit scale: accepted as they are)
    Z = (a * X + b - L.x_mean_) / L.x_scale_
    R = hm.HierarchicalSpectralLearner(2).fit(Z, y)
    pred = L.predict(a * Xt + b)
    np.testing.assert_allclose(pred, R.predict((a * Xt + b - L.x_mean_) / L.x_scale_), rtol=1e-5, atol=1e-6)
    assert np.all(np.isfinite(pred))
    err = L.evaluate(a * Xt + b, yt)
    assert err["nmse"] < 1.0  # something was learned, on the original scale
    # the off-scale raw inputs, without standardize, were refused rather than giving NaN
    with pytest.raises(ValueError, match="off the unit scale"):
        hm.HierarchicalSpectralLearner(2).fit(a * X + b, y)


def test_no_silent_nan_prediction_or_constant_label():
    X, y = _data(400, 6)
    L = hm.HierarchicalSpectralLearner(2).fit(X, y)
    with pytest.raises(FloatingPointError, match="non-finite for .* inputs: their largest \\|x\\|"):
        L.predict(1e6 * X[:10])
    with pytest.warns(RuntimeWarning, match="y is constant"):
        out = L.evaluate(X[:50], np.zeros(50))
    assert out["nmse"] == np.inf and np.isfinite(out["mse"])
