"""scikit-learn side of W2: MLPClassifier(hidden_layer_sizes=(100,), activation=...) with its
defaults (adam, lr 1e-3, batch 200, alpha 1e-4), trained for --epochs epochs on float32 data.

  sklearn_peer.py w2 --activation relu --epochs 10 --threads 2
  sklearn_peer.py w7 --epochs 10 --threads 2   # W2 again, timed from outside as a whole process
"""

import os
import sys
import time
import warnings

from common import arg, emit, fashion_mnist


def w2():
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    activation, epochs = arg("activation", "relu"), arg("epochs", 10, int)
    x, y, x_test, y_test = fashion_mnist()
    clf = MLPClassifier(hidden_layer_sizes=(100,), activation=activation, max_iter=epochs,
                        n_iter_no_change=epochs + 1, tol=0.0, random_state=0)
    with threadpool_limits(limits=arg("threads", 1, int)), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        clf.fit(x, y)
        seconds = time.perf_counter() - start
    emit({"workload": sys.argv[1], "activation": activation, "epochs": clf.n_iter_,
          "seconds_per_epoch": seconds / clf.n_iter_, "test_accuracy": float(clf.score(x_test, y_test))})


if __name__ == "__main__":
    {"w2": w2, "w7": w2}[sys.argv[1]]()
