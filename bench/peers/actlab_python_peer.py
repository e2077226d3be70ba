"""actlab from Python, W2: actlab.MLPClassifier(hidden_layer_sizes=(100,), activation=...) with
its defaults (adam, lr 1e-3, batch 200, alpha 1e-4: scikit-learn's), trained for --epochs
epochs on the same float32 data as sklearn_peer.py; then the cost of predicting one row.

  actlab_python_peer.py w2 --activation relu --epochs 10 --threads 2

Needs the package installed (`pip install .` at the repository root).
"""

import sys
import time

import numpy as np

from common import arg, emit, fashion_mnist


def w2():
    import actlab

    activation, epochs, threads = arg("activation", "relu"), arg("epochs", 10, int), arg("threads", 1, int)
    x, y, x_test, y_test = fashion_mnist()
    clf = actlab.MLPClassifier(hidden_layer_sizes=(100,), activation=activation, max_iter=epochs,
                               random_state=0, n_threads=threads)
    start = time.perf_counter()
    clf.fit(x, y)
    seconds = time.perf_counter() - start
    row = np.ascontiguousarray(x_test[:1])
    timings = {}
    for name, call in [("predict_proba", lambda: clf.predict_proba(row)), ("extension", lambda: clf.model_.predict(row))]:
        for _ in range(200):
            call()
        n = 5000
        t = time.perf_counter()
        for _ in range(n):
            call()
        timings[name] = (time.perf_counter() - t) / n * 1e6
    emit({"workload": "w2", "activation": activation, "epochs": clf.n_iter_,
          "seconds_per_epoch": seconds / clf.n_iter_, "test_accuracy": float(clf.score(x_test, y_test)),
          "predict_one_row_us": timings["predict_proba"], "extension_call_one_row_us": timings["extension"]})


if __name__ == "__main__":
    {"w2": w2}[sys.argv[1]]()
