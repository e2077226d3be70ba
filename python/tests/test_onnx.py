"""ONNX round trips: every exported graph passes onnx.checker and gives actlab's outputs under
onnxruntime, within 1e-5 × max(1, |value|)."""

import numpy as np
import onnx
import onnxruntime as rt
import pytest
from sklearn.datasets import load_iris, make_regression

import actlab

HIDDEN = [n for n in actlab.activations.names] + ["leaky_relu:0.2", "elu:0.5", "softplus:2:5", "prelu:0.1"]


def run(data):
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model, full_check=True)
    session = rt.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session, [o.name for o in session.get_outputs()]


def close(actual, expected):
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    bound = 1e-5 * np.maximum(1.0, np.abs(expected))
    worst = np.max(np.abs(actual - expected) - bound)
    assert worst <= 0, f"largest excess over the bound: {worst}"


def iris():
    X, y = load_iris(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    X, y = X[order] * 10 + 3, y[order]  # raw units far from standardized: the graph standardizes
    return X[:110], y[:110], X[110:].astype(np.float32)


@pytest.mark.parametrize("activation", HIDDEN)
def test_classifier_with_each_hidden_activation(activation):
    X, y, held_out = iris()
    est = actlab.MLPClassifier(hidden_layer_sizes=(12, 12), activation=activation, residual=True,
                               max_iter=30, learning_rate_init=0.01, random_state=0).fit(X, y)
    session, outputs = run(est.to_onnx())
    assert outputs == ["probabilities", "label"]
    probabilities, labels = session.run(None, {"features": held_out})
    close(probabilities, est.predict_proba(held_out))
    assert np.array_equal(labels, est.predict(held_out).astype(str))


@pytest.mark.parametrize("activation", HIDDEN)
def test_regressor_with_each_hidden_activation(activation):
    X, y = make_regression(n_samples=150, n_features=4, noise=2.0, random_state=1)
    # Target units far from standardized (the graph maps them back), in the range of a price: the
    # bound is relative to the value, and float32 rounding of the standardized output, scaled by
    # the target's std, only stays below it for values not much smaller than that std.
    y = y + 1000
    est = actlab.MLPRegressor(hidden_layer_sizes=(10,), activation=activation, max_iter=30,
                              learning_rate_init=0.01, random_state=0).fit(X[:120], y[:120])
    session, outputs = run(est.to_onnx())
    assert outputs == ["prediction"]
    (prediction,) = session.run(None, {"features": X[120:].astype(np.float32)})
    close(prediction[:, 0], est.predict(X[120:]))


@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_binary_classifier_with_softmax_and_sigmoid_outputs(output):
    X, y, held_out = iris()
    keep = y < 2
    labels = np.where(y[keep] == 1, "versicolor", "setosa")
    est = actlab.MLPClassifier(hidden_layer_sizes=(8,), activation="gelu", output_activation=output,
                               max_iter=20, random_state=0).fit(X[keep], labels)
    session, _ = run(est.to_onnx())
    probabilities, predicted = session.run(None, {"features": held_out})
    assert probabilities.shape == (len(held_out), 2)
    close(probabilities, est.predict_proba(held_out))
    assert np.array_equal(predicted, est.predict(held_out))


def test_to_onnx_writes_the_file(tmp_path):
    X, y, held_out = iris()
    est = actlab.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    path = tmp_path / "m.onnx"
    data = est.to_onnx(str(path))
    assert path.read_bytes() == data


def test_a_cli_model_of_a_raw_table_imputes_inside_the_graph_and_keeps_its_threshold(tmp_path):
    """A model trained by `actlab train` on a CSV file with missing cells and a decision
    threshold: the graph takes the raw columns with NaN for a missing cell and gives what
    `actlab predict` gives on the same file."""
    import csv
    import os
    import subprocess
    from pathlib import Path

    binary = os.environ.get("ACTLAB_BIN", str(Path(__file__).resolve().parents[2] / "target" / "debug" / "actlab"))
    assert Path(binary).exists(), f"{binary} not found: build it with `cargo build` or set ACTLAB_BIN"
    rng = np.random.default_rng(5)
    rows = []
    for i in range(240):
        a, b, c = rng.normal(size=3)
        label = "yes" if a + 0.5 * b - c > 0.4 else "no"
        rows.append([f"{a:.4f}", "NA" if i % 7 == 0 else f"{b:.4f}", f"{c * 100:.2f}", label])
    train, new = tmp_path / "train.csv", tmp_path / "new.csv"
    with open(train, "w", newline="") as f:
        csv.writer(f).writerows([["a", "b", "c", "y"], *rows])
    with open(new, "w", newline="") as f:
        csv.writer(f).writerows([["a", "b", "c"], *[r[:3] for r in rows[:60]]])
    model, graph = tmp_path / "m.safetensors", tmp_path / "m.onnx"
    subprocess.run([binary, "train", "--data", train, "--target", "y", "--epochs", "20", "--threshold", "0.3",
                    "--save", model], check=True, capture_output=True)
    subprocess.run([binary, "export", "--model", model, "--onnx", graph], check=True, capture_output=True)
    proba = subprocess.run([binary, "predict", "--model", model, "--data", new, "--proba"], check=True,
                           capture_output=True, text=True).stdout.splitlines()
    labels = subprocess.run([binary, "predict", "--model", model, "--data", new], check=True,
                            capture_output=True, text=True).stdout.splitlines()
    session, outputs = run(graph.read_bytes())
    raw = np.array([[np.nan if v == "NA" else float(v) for v in r[:3]] for r in rows[:60]], dtype=np.float32)
    probabilities, onnx_labels = session.run(None, {"features": raw})
    close(probabilities, [[float(v) for v in line.split(",")] for line in proba[1:]])
    assert list(onnx_labels) == labels[1:]
    # The label is decided by the threshold, not by the most probable class.
    assert list(onnx_labels) == list(np.where(probabilities[:, 1] >= 0.3, "yes", "no"))
