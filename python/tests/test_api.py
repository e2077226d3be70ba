"""The estimators' Python surface: fitted attributes, pickling, errors, partial_fit, pandas,
the activations and diagnose."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import NotFittedError

import actlab


def test_fitted_attributes_and_pickling():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    est = actlab.MLPClassifier(hidden_layer_sizes=(16,), max_iter=50, learning_rate_init=0.01, random_state=3)
    est.fit(X, names)
    assert list(est.classes_) == ["setosa", "versicolor", "virginica"]
    assert est.n_features_in_ == 4 and est.n_iter_ == 50 and len(est.loss_curve_) == 50
    assert est.best_loss_ == min(est.loss_curve_) and est.loss_curve_[-1] < est.loss_curve_[0]
    assert est.score(X, names) > 0.9
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X)), proba, rtol=1e-6)
    again = pickle.loads(pickle.dumps(est))
    assert np.array_equal(again.predict_proba(X), proba)
    # random_state reproduces a fit exactly; another seed does not
    assert np.array_equal(clone(est).fit(X, names).predict_proba(X), proba)
    assert not np.array_equal(clone(est).set_params(random_state=4).fit(X, names).predict_proba(X), proba)


def test_early_stopping_records_validation_scores():
    X, y = load_iris(return_X_y=True)
    est = actlab.MLPClassifier(early_stopping=True, n_iter_no_change=3, max_iter=300, random_state=0).fit(X, y)
    assert len(est.validation_scores_) == est.n_iter_
    assert all(0 <= s <= 1 for s in est.validation_scores_)


def test_dropout_trains_differently_and_refuses_a_rate_of_one():
    X, y = load_iris(return_X_y=True)
    plain = actlab.MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=20, random_state=0).fit(X, y)
    zero = actlab.MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=20, dropout=0.0, random_state=0).fit(X, y)
    some = actlab.MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=20, dropout=[0.3, 0.1], random_state=0).fit(X, y)
    assert np.array_equal(plain.predict_proba(X), zero.predict_proba(X))
    assert not np.array_equal(plain.predict_proba(X), some.predict_proba(X))
    with pytest.raises(ValueError, match="dropout"):
        actlab.MLPClassifier(max_iter=2, dropout=1.0).fit(X, y)


def test_dataframe_feature_names():
    X, y = load_iris(return_X_y=True, as_frame=True)
    est = actlab.MLPClassifier(max_iter=5, random_state=0).fit(X, y)
    assert list(est.feature_names_in_) == list(X.columns)
    with pytest.raises(ValueError, match="feature names"):
        est.predict(X.rename(columns={X.columns[0]: "other"}))


def test_errors_are_python_exceptions_with_actlabs_message():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(NotFittedError):
        actlab.MLPClassifier().predict(X)
    with pytest.raises(ValueError, match="unknown activation 'relux' \\(did you mean"):
        actlab.MLPClassifier(activation="relux").fit(X, y)
    with pytest.raises(ValueError, match="softmax cannot be the output of a regression"):
        actlab.MLPRegressor(output_activation="softmax", max_iter=1).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        actlab.MLPClassifier(solver="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        actlab.MLPClassifier().fit(np.full_like(X, np.nan), y)
    with pytest.raises(ValueError, match="n_threads"):
        actlab.MLPClassifier(n_threads=0, max_iter=1).fit(X, y)


def test_partial_fit_continues_the_same_network():
    X, y = load_iris(return_X_y=True)
    est = actlab.MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    est.partial_fit(X, y, classes=[0, 1, 2])
    first = est.loss_curve_[0]
    for _ in range(30):
        est.partial_fit(X, y)
    assert est.n_iter_ == 31 and est.loss_curve_[-1] < first / 2
    with pytest.raises(ValueError, match="not in classes"):
        est.partial_fit(X, y + 5)


@pytest.mark.parametrize("solver", ["adam", "sgd", "rmsprop"])
def test_partial_fit_after_fit_trains_like_a_longer_fit(solver):
    # partial_fit goes on with the estimator's solver and alpha and the optimizer's state of the
    # fit before it. With the whole set as one batch the epochs only differ in the order the rows
    # are summed: a fresh optimizer, another solver or no weight decay would be far off.
    X, y = load_iris(return_X_y=True)
    kw = dict(hidden_layer_sizes=(8,), batch_size=len(X), learning_rate_init=0.01, alpha=2.0, solver=solver,
              random_state=0)
    whole = actlab.MLPClassifier(max_iter=12, **kw).fit(X, y)
    parts = actlab.MLPClassifier(max_iter=6, **kw).fit(X, y)
    for _ in range(6):
        parts.partial_fit(X, y)
    np.testing.assert_allclose(parts.predict_proba(X), whole.predict_proba(X), atol=1e-5)
    np.testing.assert_allclose(parts.loss_curve_, whole.loss_curve_, rtol=1e-5)
    # A pickled estimator carries the state as well; a new solver starts afresh.
    again = pickle.loads(pickle.dumps(parts))
    again.partial_fit(X, y)
    parts.partial_fit(X, y)
    assert np.array_equal(again.predict_proba(X), parts.predict_proba(X))
    other = "adam" if solver != "adam" else "sgd"
    again.set_params(solver=other).partial_fit(X, y)
    assert np.isfinite(again.loss_curve_[-1])


def test_activations_are_numpy_functions():
    x = np.linspace(-4, 4, 81, dtype=np.float32)
    np.testing.assert_allclose(actlab.activations.relu(x), np.maximum(x, 0))
    np.testing.assert_allclose(actlab.activations.tanh.derivative(x), 1 - np.tanh(x.astype(np.float64)) ** 2, atol=1e-6)
    from math import erf, sqrt

    gelu = [v * 0.5 * (1 + erf(v / sqrt(2))) for v in x.astype(np.float64)]
    np.testing.assert_allclose(actlab.activations.gelu(x), gelu, rtol=1e-6, atol=1e-7)
    leaky = actlab.activations.get("leaky_relu:0.2")
    assert leaky(np.float32(-2.0)) == pytest.approx(-0.4) and leaky.derivative([-1.0])[0] == pytest.approx(0.2)
    assert actlab.activations.gelu_tanh(x).shape == x.shape
    with pytest.raises(ValueError, match="unknown activation"):
        actlab.activations.get("nope")


def test_diagnose_reports_every_layer():
    X, y = load_iris(return_X_y=True)
    est = actlab.MLPClassifier(hidden_layer_sizes=(8, 8), max_iter=5, random_state=0).fit(X, y)
    report = actlab.diagnose(est, X, y)
    assert len(report["layers"]) == 3 and report["samples"] == 150
    assert report["verdict"] in ("healthy", "vanishing", "exploding")


def test_diagnose_without_y_gives_the_forward_figures_alone():
    X, y = load_iris(return_X_y=True)
    forward_figures = ("dead_fraction", "saturated_fraction", "always_saturated", "output_mean", "output_std",
                       "histogram", "weight_norm", "units", "activation")
    regression_y = X[:, 0] * 2.0 - X[:, 1]
    for est, target in [
        (actlab.MLPClassifier(hidden_layer_sizes=(8, 8), activation="tanh", max_iter=5, random_state=0), y),
        (actlab.MLPRegressor(hidden_layer_sizes=(6,), activation="relu", max_iter=5, random_state=0), regression_y),
    ]:
        est.fit(X, target)
        full, forward = actlab.diagnose(est, X, target), actlab.diagnose(est, X)
        assert forward["gradient_ratio"] is None and forward["verdict"] is None
        assert full["verdict"] in ("healthy", "vanishing", "exploding")
        assert forward["samples"] == full["samples"] == 150
        for with_y, without in zip(full["layers"], forward["layers"], strict=True):
            assert {k: with_y[k] for k in forward_figures} == {k: without[k] for k in forward_figures}
            assert all(without[k] is None for k in ("grad_norm", "grad_to_weight", "same_sign_share"))
            assert with_y["grad_norm"] > 0


def test_compare_returns_one_summary_per_activation():
    X, y = load_iris(return_X_y=True)
    result = actlab.compare(X, y, activations=["relu", "tanh"], seeds=[0, 1], max_iter=20)
    summaries, runs = result["summaries"], result["runs"]
    assert list(summaries["activation"]) == ["relu", "tanh"]
    assert list(summaries["runs"]) == [2, 2] and len(runs) == 4
    assert ((summaries["test_score.mean"] > 0.5) & (summaries["test_score.mean"] <= 1)).all()
    assert result["epochs"] == 20
    with pytest.raises(ValueError, match="softmax"):
        actlab.compare(X, y, activations=["softmax"], max_iter=1)


def test_experiments_report_their_claims():
    table = actlab.experiments(quick=True)
    assert list(table["id"]) == list(range(1, 10))
    assert table["holds"].dtype == bool and table["claim"].str.len().min() > 10
    with pytest.raises(ValueError, match="no experiment 12"):
        actlab.experiments([12])


def test_float32_c_contiguous_input_is_read_without_a_copy():
    # In a fresh interpreter, whose peak resident memory (ru_maxrss, which only grows) the test
    # reads before and after each call: a copy of X, or a standardized copy of all of it, would
    # raise the peak by X's size.
    code = """
import resource, numpy as np, actlab
X = np.random.default_rng(0).standard_normal((400_000, 100), dtype=np.float32)
y = (X[:, 0] > 0).astype(np.int64)
est = actlab.MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, batch_size=1000, random_state=0)
est.fit(X[:2000], y[:2000])
est.predict_proba(X[:2000])
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = peak()
est.predict_proba(X)
predicting = peak() - before
before = peak()
est.fit(X, y)
fitting = peak() - before
print(X.nbytes, predicting, fitting)
"""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    size, predicting, fitting = map(int, out.split())
    # Predicting reads X where it lies and standardizes one row at a time: the outputs
    # (400 000 × 2 floats, 2% of X) and small buffers only.
    assert predicting < 0.1 * size, (predicting, size)
    # Training makes the one standardized copy it trains on, and no copy of X before that.
    assert fitting < 1.5 * size, (fitting, size)
