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


def cli_binary():
    import os
    from pathlib import Path

    binary = os.environ.get("ACTLAB_BIN", str(Path(__file__).resolve().parents[2] / "target" / "debug" / "actlab"))
    assert Path(binary).exists(), f"{binary} not found: build it with `cargo build` or set ACTLAB_BIN"
    return binary


def cli(*args):
    import subprocess

    return subprocess.run([cli_binary(), *map(str, args)], check=True, capture_output=True, text=True).stdout


def write_csv(path, header, rows):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])


# A raw table with every kind of column the preprocessing knows: a numeric column with missing
# cells and a space in its name; a text column with common categories, a rare one pooled into
# <other> and missing cells; a column whose every category is rare (all pooled) and whose name is
# not ASCII; a column of one category named like a constant inside the graph; numbers declared
# categorical; a column dropped by request.
MIXED_HEADER = ["size cm", "colour", "größe", "one", "grade", "note"]


def mixed_rows(rng, n):
    rows = []
    for i in range(n):
        size = rng.normal()
        colour = ["red", "green", "blue"][rng.integers(3)] if i % 9 else "NA"
        if i % 80 == 5:
            colour = "violet"  # 3 times in 240 rows: pooled into <other>
        rows.append([
            "" if i % 7 == 3 else f"{size:.4f}",
            colour,
            f"g{i % 60}",  # each 4 times: every category pooled
            "x",
            str(1 + i % 3),
            f"free text {i}",
        ])
    return rows


# Rows to predict on with what training never had: an unknown category, missing cells in columns
# that had none, a pooled category, every missing-value text.
NEW_ROWS = [
    ["0.5", "purple", "g3", "x", "2", "n"],
    ["", "violet", "zzz", "NA", "1", "n"],
    ["N/A", "", "", "", "3", "n"],
    ["-1.25", "null", "g59", "?", "1", "n"],
    ["2", "blue", "nan", "-", "2", "n"],
]


def feed(session_model, rows, header):
    """onnxruntime's inputs for `rows` of a table with `header`, one per column the graph reads,
    typed by the roles in the graph's `columns` metadata."""
    import json

    meta = {p.key: p.value for p in session_model.metadata_props}
    missing = set(json.loads(meta["missing_values"]))
    inputs = {}
    for column in json.loads(meta["columns"]):
        kind = column["encoding"]["type"]
        if kind == "dropped":
            continue
        cells = [r[header.index(column["name"])] for r in rows]
        if kind == "numeric":
            values = [np.nan if c in missing else float(c) for c in cells]
            inputs[column["name"]] = np.array(values, dtype=np.float32).reshape(-1, 1)
        else:
            inputs[column["name"]] = np.array(cells, dtype=object).reshape(-1, 1)
    assert list(inputs) == json.loads(meta["features"])
    return inputs


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_cli_model_with_categorical_columns_takes_one_input_per_column(tmp_path, task):
    """A model trained by `actlab train` on a table with categorical columns: the graph has an
    input per raw column, named by it, and gives what `actlab predict` gives on the same rows."""
    rng = np.random.default_rng(11)
    rows = mixed_rows(rng, 240)
    if task == "classification":
        target = ["yes" if (float(r[0] or 0) + (r[1] == "red") - (r[4] == "3")) > 0.3 else "no" for r in rows]
        extra = ["--threshold", "0.35"]
    else:
        target = [f"{1000 + 30 * float(r[0] or 0) + 40 * (r[1] == 'red') + 10 * int(r[4]):.2f}" for r in rows]
        extra = []
    train, new = tmp_path / "train.csv", tmp_path / "new.csv"
    write_csv(train, [*MIXED_HEADER, "y"], [[*r, t] for r, t in zip(rows, target)])
    predict_rows = rows[:40] + NEW_ROWS
    write_csv(new, MIXED_HEADER, predict_rows)
    model, graph = tmp_path / "m.safetensors", tmp_path / "m.onnx"
    cli("train", "--data", train, "--target", "y", "--epochs", "15", "--categorical", "grade", "--drop", "note",
        "--hidden", "16", "--save", model, *extra)
    cli("export", "--model", model, "--onnx", graph)
    session, outputs = run(graph.read_bytes())
    onnx_model = onnx.load(graph)
    assert [i.name for i in session.get_inputs()] == ["size cm", "colour", "größe", "one", "grade"]
    assert [i.type for i in session.get_inputs()] == ["tensor(float)"] + ["tensor(string)"] * 4
    result = session.run(None, feed(onnx_model, predict_rows, MIXED_HEADER))
    if task == "classification":
        probabilities, labels = result
        proba = cli("predict", "--model", model, "--data", new, "--proba").splitlines()
        assert proba[0] == "no,yes"
        close(probabilities, [[float(v) for v in line.split(",")] for line in proba[1:]])
        expected = cli("predict", "--model", model, "--data", new).splitlines()[1:]
        assert list(labels) == expected
        assert list(labels) == list(np.where(probabilities[:, 1] >= 0.35, "yes", "no"))
    else:
        (prediction,) = result
        expected = cli("predict", "--model", model, "--data", new).splitlines()[1:]
        close(prediction[:, 0], [float(v) for v in expected])

    # Cells that encode alike give the same output: two categories never seen (all zeros), two
    # rare categories (both <other>); a pooled category is not an unknown one.
    def probe(row):
        return session.run(None, feed(onnx_model, [row], MIXED_HEADER))[0]

    unknown = ["0.5", "purple", "g3", "x", "2", "n"]
    assert np.array_equal(probe(unknown), probe(["0.5", "zzz", "g7", "x", "2", "n"]))
    assert not np.array_equal(probe(["0.5", "violet", "g3", "x", "2", "n"]), probe(unknown))
