"""Every invalid parameter is refused at the boundary with one line naming it (issue 2, item 7)."""

import numpy as np
import pytest

import hierarchical_model as hm

CASES = [  # (constructor kwargs, the parameter name the message must start with)
    ({"d": 1}, "d=1"),
    ({"q": 4}, "q=4"),
    ({"q": 1}, "q=1"),
    ({"gamma": -0.1}, "gamma=-0.1"),
    ({"eps": 0.0}, "eps=0.0"),
    ({"d": 4, "eps": 2.0}, "eps=2.0 gives d1=floor(d^eps)=16"),
    ({"d1": 0}, "d1=0"),
    ({"g": "softplus"}, "g='softplus'"),
    ({"g": lambda z: z**2}, "g="),  # nu_1 = 0: information exponent 2
    ({"a_kind": "sparse"}, "a_kind='sparse'"),
    ({"input_model": "images"}, "input_model='images'"),
    ({"sigma": float("nan")}, "sigma=nan"),
]


@pytest.mark.parametrize("kwargs,start", CASES)
def test_teacher_config_refuses(kwargs, start):
    with pytest.raises(ValueError) as err:
        hm.TeacherConfig(**kwargs)
    msg = str(err.value)
    assert msg.startswith(start) and "\n" not in msg


def test_run_refuses_n_below_d1_and_n_test_below_one():
    cfg = hm.TeacherConfig(d=16)
    with pytest.raises(ValueError, match=r"^n=3 is out of range: must be an integer \[4, "):
        hm.run(cfg, 3)
    with pytest.raises(ValueError, match=r"^n_test=0 is out of range"):
        hm.run(cfg, 100, n_test=0)


@pytest.mark.parametrize("kwargs,match", [
    ({"engine": "gpu"}, r"^engine='gpu' is not allowed: must be one of 'auto', 'dense', 'matrix_free'$"),
    ({"label_transform": "log"}, r"^label_transform='log'"),
    ({"d1": 0}, r"^d1=0"),
    ({"ridge_grid": ()}, r"^ridge_grid=\(\) is not allowed"),
    ({"tol": 0.0}, r"^tol=0.0"),
    ({"engine": "dense", "memory_gb": 0.001}, r"^engine='dense' needs"),
])
def test_learner_stores_bad_hyper_parameters_and_fit_refuses_them(kwargs, match):
    """The scikit-learn contract: the constructor stores its arguments as given; fit, fit_stream and fit_path
    refuse a bad one in one line naming it."""
    kwargs = {"d1": 3, **kwargs}
    learner = hm.HierarchicalSpectralLearner(**kwargs)
    assert all(learner.get_params()[k] is v for k, v in kwargs.items())
    t = hm.Teacher(hm.TeacherConfig(d=30), 0)
    for fit in (lambda: learner.fit(*_data(200, 30)), lambda: learner.fit_stream(t, 500),
                lambda: list(learner.fit_path(t, [300, 500]))):
        with pytest.raises(ValueError, match=match) as err:
            fit()
        assert "\n" not in str(err.value)


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


@pytest.mark.parametrize("mutate,match", [
    (lambda X, y: (X.ravel(), y), r"^X has shape \(400,\): must have shape \(n_samples, n_inputs\)"),
    (lambda X, y: (X, y[:-1]), r"^y has 39 samples: must match X's 40"),
    (lambda X, y: (np.where(X > 2.5, np.nan, X), y), r"^X has \d+ non-finite entries"),
    (lambda X, y: (X, np.full_like(y, np.inf)), r"^y has 40 non-finite entries"),
    (lambda X, y: (X[:2], y[:2]), r"^n \(number of samples\)=2 is out of range: must be an integer >= 5"),
    (lambda X, y: (np.full(X.shape, "a"), y), r"^X is not allowed: must be a numeric array"),
])
def test_fit_refuses_bad_user_data(mutate, match):
    X, y = _data(40, 10)
    with pytest.raises(ValueError, match=match):
        hm.HierarchicalSpectralLearner(3).fit(*mutate(X, y))


def test_predict_refuses_wrong_width_and_unfitted():
    X, y = _data(300, 6)
    with pytest.raises(RuntimeError, match="not fitted"):
        hm.HierarchicalSpectralLearner(2).predict(X)
    L = hm.HierarchicalSpectralLearner(2).fit(X, y)
    with pytest.raises(ValueError, match=r"^X has 5 columns: must have 6"):
        L.predict(X[:, :5])
