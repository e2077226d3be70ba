"""What a new user runs into at the edges: bad parameters and inputs raise ValueError/TypeError
naming what is wrong (never a Rust panic, a hang or a silent misreading), and what a model
keeps of a pandas DataFrame reaches the model file and the ONNX graph."""

import os
import subprocess
import time
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris, load_wine

import actlab

BINARY = os.environ.get("ACTLAB_BIN", str(Path(__file__).resolve().parents[2] / "target" / "debug" / "actlab"))


def iris_frame():
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    return X, y.map({0: "setosa", 1: "versicolor", 2: "virginica"}).rename("species")


def test_a_dataframes_names_reach_the_onnx_graph_and_the_model_file(tmp_path):
    X, y = iris_frame()
    est = actlab.MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, learning_rate_init=0.01, random_state=0).fit(X, y)
    metadata = {p.key: p.value for p in onnx.load_from_string(est.to_onnx()).metadata_props}
    assert metadata["features"] == '["sepal_length","sepal_width","petal_length","petal_width"]'
    # Without names the features are x0, x1, …, as before.
    plain = actlab.MLPClassifier(hidden_layer_sizes=(8,), max_iter=1, random_state=0).fit(X.values, y)
    plain_metadata = {p.key: p.value for p in onnx.load_from_string(plain.to_onnx()).metadata_props}
    assert plain_metadata["features"] == '["x0","x1","x2","x3"]'

    # The CLI matches a CSV file's columns by those names, whatever their order, and finds the
    # target by the Series' name.
    assert Path(BINARY).exists(), f"{BINARY} not found: build it with `cargo build` or set ACTLAB_BIN"
    model = tmp_path / "m.safetensors"
    model.write_bytes(est.to_safetensors())
    shuffled = tmp_path / "shuffled.csv"
    X[X.columns[::-1]].assign(species=y).to_csv(shuffled, index=False)
    out = subprocess.run([BINARY, "predict", "--model", model, "--data", shuffled, "--proba"],
                         capture_output=True, text=True, check=True).stdout
    from_cli = np.loadtxt(out.splitlines()[1:], delimiter=",")
    np.testing.assert_allclose(from_cli, est.predict_proba(X), rtol=1e-6, atol=1e-7)
    report = subprocess.run([BINARY, "eval", "--model", model, "--data", shuffled],
                            capture_output=True, text=True, check=True).stdout
    assert f"accuracy {est.score(X, y):.4f}" in report


def test_partial_fit_takes_classes_in_any_order_and_keeps_them():
    X, y = load_iris(return_X_y=True)
    est = actlab.MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.05, random_state=0)
    est.partial_fit(X, y, classes=[2, 0, 1, 0])
    assert est.classes_.tolist() == [0, 1, 2]
    for _ in range(20):
        est.partial_fit(X, y, classes=[1, 2, 0])
    assert est.score(X, y) > 0.8
    with pytest.raises(ValueError, match=r"classes=\[0, 1\] is not the same as on the first call"):
        est.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=r"y has labels \['a'\] that are not in classes \[0, 1, 2\]"):
        est.partial_fit(X[:2], ["a", "a"])
    with pytest.raises(ValueError, match="at least two classes"):
        actlab.MLPClassifier().partial_fit(X, np.zeros(150, int), classes=[0])


def test_lengths_that_differ_are_value_errors_not_panics():
    X, y = load_iris(return_X_y=True)
    est = actlab.MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[150, 10\]"):
        actlab.diagnose(est, X, y[:10])
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[5, 4\]"):
        actlab.compare(X, y, X[:5], y[:4], activations=["relu"], max_iter=1)
    with pytest.raises(ValueError, match="X_test has 3 features but X has 4"):
        actlab.compare(X, y, X[:5, :3], y[:5], activations=["relu"], max_iter=1)
    # The extension checks too, for callers of actlab._actlab.
    with pytest.raises(ValueError, match="y has 10 values but X has 150 rows"):
        est.model_.diagnose(X.astype(np.float32), labels=y[:10].astype(np.int64), classes=["0", "1", "2"],
                            values=None, max_samples=100)


def test_n_threads_beyond_the_cores_runs_on_the_cores():
    X, y = load_iris(return_X_y=True)
    start = time.perf_counter()
    many = actlab.MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, n_threads=10**9).fit(X, y)
    assert time.perf_counter() - start < 30  # it used to try to start 10⁹ threads
    one = actlab.MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, n_threads=1).fit(X, y)
    assert np.array_equal(many.predict_proba(X), one.predict_proba(X))
    for bad in (0, -1, 2.5, "2"):
        with pytest.raises(ValueError, match=f"n_threads must be a positive integer.*got {bad!r}"):
            actlab.MLPClassifier(max_iter=1, n_threads=bad).fit(X, y)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"hidden_layer_sizes": None}, "hidden_layer_sizes must be a positive integer or a sequence of them"),
        ({"hidden_layer_sizes": "abc"}, "hidden_layer_sizes must be .* got 'abc'"),
        ({"hidden_layer_sizes": (2**70,)}, r"hidden_layer_sizes must be .*below 2\*\*63"),
        ({"activation": None}, "activation must be a name or a list of names, got None"),
        ({"activation": ["relu", 3]}, "activation must be a name or a list of names"),
        ({"solver": None}, "solver must be a name, got None"),
        ({"alpha": -1.0}, r"alpha must be in \[0, inf\), got -1.0"),
        ({"alpha": float("nan")}, "alpha must be a finite number, got nan"),
        ({"batch_size": "big"}, "batch_size must be 'auto' or a positive integer, got 'big'"),
        ({"learning_rate_init": 0.0}, r"learning_rate_init must be in \(0, inf\), got 0.0"),
        ({"dropout": None}, "dropout must be a finite number, got None"),
        ({"dropout": [0.1, 1.0]}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"early_stopping": True, "n_iter_no_change": 0}, "n_iter_no_change must be a positive integer"),
        ({"early_stopping": True, "validation_fraction": 0.0}, r"validation_fraction must be in \(0, 1\)"),
        ({"tol": "x"}, "tol must be a finite number, got 'x'"),
        ({"output_activation": "relu"}, "output_activation must be 'softmax' or 'sigmoid' for a classifier"),
        ({"output_activation": 1}, "output_activation must be None or a name, got 1"),
    ],
)
def test_bad_parameters_are_named(params, message):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=message):
        actlab.MLPClassifier(max_iter=1, **params).fit(X, y)


def test_a_regression_target_beyond_float32_is_refused_not_called_a_divergence():
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ValueError, match=r"y has the value 1e\+39, which is not finite in float32"):
        actlab.MLPRegressor(max_iter=1).fit(X, np.where(np.arange(len(y)) == 3, 1e39, y))
    # Large but within float32: trained in the target's units, and the predictions are finite.
    est = actlab.MLPRegressor(hidden_layer_sizes=(16,), max_iter=50, learning_rate_init=0.01, random_state=0)
    est.fit(X, y * 1e30)
    assert np.isfinite(est.predict(X)).all() and est.score(X, y * 1e30) > 0.3
    with pytest.raises(ValueError, match="y must hold numbers for a regression"):
        actlab.diagnose(est, X, np.array(["a"] * len(y)))


# 1e39 becomes inf in float32, which numpy warns of.
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_a_feature_that_is_not_finite_is_named_by_its_row_and_column():
    # fit leaves this check to the library, which makes it while it standardizes the
    # features; the message names the first such value as scikit-learn's does not.
    X, y = load_iris(return_X_y=True, as_frame=True)
    for bad, shown in [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "-inf"), (1e39, "inf")]:
        broken = X.copy()
        broken.iloc[6, 2] = bad
        broken.iloc[9, 1] = np.nan  # a later one, not the first
        message = f"row 7 of the data: feature 'petal length \\(cm\\)' is {shown}; every feature must be a finite number"
        for est in [
            actlab.MLPClassifier(max_iter=1),
            actlab.MLPClassifier(max_iter=1, early_stopping=True),
            actlab.MLPRegressor(max_iter=1),
        ]:
            target = y if isinstance(est, actlab.MLPClassifier) else y.astype(float)
            with pytest.raises(ValueError, match=message):
                est.fit(broken, target)
        # partial_fit on a fitted model, and predict, refuse it too.
        est = actlab.MLPClassifier(max_iter=1).fit(X, y)
        with pytest.raises(ValueError, match=message):
            est.partial_fit(broken, y)
        with pytest.raises(ValueError, match="NaN|inf"):
            est.predict(broken)


def test_compare_checks_its_inputs():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        actlab.compare(np.where(X > 5, np.nan, X), y, activations=["relu"], max_iter=1)
    with pytest.raises(ValueError, match="y has the value nan"):
        actlab.compare(X, X[:, 0] * np.nan, activations=["relu"], max_iter=1)
    with pytest.raises(ValueError, match="task must be None, 'classification' or 'regression', got 'clustering'"):
        actlab.compare(X, y, activations=["relu"], max_iter=1, task="clustering")
    with pytest.raises(ValueError, match="seeds must be an integer of at least 0"):
        actlab.compare(X, y, activations=["relu"], seeds=[-1], max_iter=1)
    with pytest.raises(ValueError, match="give both X_test and y_test"):
        actlab.compare(X, y, X, activations=["relu"], max_iter=1)
    # One activation as a string, one hidden layer as an int, one seed as an int.
    result = actlab.compare(X, y, activations="tanh", hidden_layer_sizes=8, seeds=3, max_iter=2)
    assert result["summaries"]["activation"].tolist() == ["tanh"]
    assert result["runs"]["seed"].tolist() == [3]


def test_compare_frames_have_one_column_per_statistic():
    X, y = load_diabetes(return_X_y=True)
    summaries = actlab.compare(X, y, activations=["relu", "sigmoid"], max_iter=3)["summaries"]
    # relu has no saturation: its statistics are NaN, with no extra column of Nones.
    assert "saturated_fraction" not in summaries.columns
    relu, sigmoid = summaries["saturated_fraction.mean"].tolist()
    assert np.isnan(relu) and 0 <= sigmoid <= 1
    scores = summaries[["train_score.mean", "test_score.mean", "train_loss.mean", "test_loss.mean"]]
    assert np.isfinite(scores.to_numpy(dtype=float)).all()


def test_experiment_ids_out_of_range_are_named():
    for bad in (0, -1, 300):
        with pytest.raises(ValueError, match=f"no experiment {bad}; they are numbered 1 to 9"):
            actlab.experiments([bad], quick=True)
    with pytest.raises(ValueError, match=r"ids must be experiment numbers \(integers\), got \['a'\]"):
        actlab.experiments(["a"], quick=True)


def test_diagnose_checks_max_samples_and_targets():
    X, y = load_wine(return_X_y=True)
    est = actlab.MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y.astype(float))
    with pytest.raises(ValueError, match="max_samples must be a positive integer"):
        actlab.diagnose(est, X, y, max_samples=0)
    with pytest.raises(ValueError, match="y has the value nan"):
        actlab.diagnose(est, X, np.full(len(y), np.nan))
    assert actlab.diagnose(est, X, y, max_samples=50)["samples"] == 50
    # Numbers in a pandas object column are numbers; labels of another kind are named.
    assert actlab.diagnose(est, X, pd.Series(y.astype(float), dtype=object), max_samples=40)["samples"] == 40
    classifier = actlab.MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"y has labels \[None\] that are not in classes \[0, 1, 2\]"):
        actlab.diagnose(classifier, X, np.array([None] * len(y), dtype=object))


def test_activations_refuse_what_has_no_real_value():
    with pytest.raises(TypeError, match="an activation is given by its name, a string, not None"):
        actlab.activations.get(None)
    with pytest.raises(ValueError, match="softmax works on whole rows"):
        actlab.activations.get("softmax")
    with pytest.raises(TypeError, match="activations take real numbers, got an array of dtype complex128"):
        actlab.activations.relu(np.array([1 + 1j]))
    with pytest.raises(TypeError, match="dtype <U3"):
        actlab.activations.gelu.derivative("abc")
    # float64, int and bool inputs are computed in float32.
    x = np.linspace(-3, 3, 13)
    np.testing.assert_array_equal(actlab.activations.elu(x), actlab.activations.elu(x.astype(np.float32)))
    np.testing.assert_array_equal(actlab.activations.relu(np.array([True, False])), [1.0, 0.0])
    assert actlab.activations.tanh(x).dtype == np.float32


def test_partial_fit_on_a_dataframe_keeps_its_column_names():
    X, y = iris_frame()
    est = actlab.MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    est.partial_fit(X, y, classes=["setosa", "versicolor", "virginica"])
    assert list(est.feature_names_in_) == list(X.columns)
    est.partial_fit(X, y)
    assert est.n_iter_ == 2
    with pytest.raises(ValueError, match="Feature names must be in the same order as they were in fit"):
        est.partial_fit(X[X.columns[::-1]], y)
    metadata = {p.key: p.value for p in onnx.load_from_string(est.to_onnx()).metadata_props}
    assert metadata["features"] == '["sepal_length","sepal_width","petal_length","petal_width"]'
    regressor = actlab.MLPRegressor(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, 2 * X["petal_width"])
    assert list(regressor.feature_names_in_) == list(X.columns)


def test_partial_fit_refuses_early_stopping_as_scikit_learn_does():
    # It used to hold a tenth of the first call's rows out for validation, then train later calls
    # on every row, with validation_scores_ = [None].
    X, y = load_iris(return_X_y=True)
    for est in (actlab.MLPClassifier(early_stopping=True), actlab.MLPRegressor(early_stopping=True)):
        with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
            est.partial_fit(X, y, **({"classes": [0, 1, 2]} if isinstance(est, actlab.MLPClassifier) else {}))
        assert not hasattr(est, "model_")
