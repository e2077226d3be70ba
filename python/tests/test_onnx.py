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
