"""scikit-learn estimators over actlab's Rust engine."""

import json

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import _actlab

# scikit-learn's solver names that actlab spells otherwise: its "sgd" has Nesterov momentum 0.9.
_SOLVERS = {"sgd": "nesterov"}


class _BaseMLP(BaseEstimator):
    """Parameters and training shared by the classifier and the regressor."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
        max_iter=200,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        output_activation=None,
        init=None,
        residual=False,
        dropout=0.0,
        n_threads=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.output_activation = output_activation
        self.init = init
        self.residual = residual
        self.dropout = dropout
        self.n_threads = n_threads

    def _hidden(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if np.isscalar(sizes) else list(sizes)
        if any(int(s) != s or s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}")
        return [int(s) for s in sizes]

    def _batch_size(self, n):
        if self.batch_size == "auto":
            return max(1, min(200, n))
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ValueError(f"batch_size must be 'auto' or a positive integer, got {self.batch_size!r}")
        return int(self.batch_size)

    def _seed(self):
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _target(self, y):
        """Keyword arguments that give the Rust side its target."""
        raise NotImplementedError

    def _fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float32, order="C", y_numeric=not self._is_classifier())
        target = self._target(y, reset=True)
        activations = [self.activation] if isinstance(self.activation, str) else list(self.activation)
        if not isinstance(self.max_iter, (int, np.integer)) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        model, history = _actlab.fit(
            X,
            hidden=self._hidden(),
            activations=[str(a) for a in activations],
            output=self.output_activation,
            init=self.init,
            residual=bool(self.residual),
            dropout=[float(self.dropout)] if np.isscalar(self.dropout) else [float(r) for r in self.dropout],
            optimizer=_SOLVERS.get(self.solver, self.solver),
            # scikit-learn adds α·w / batch_size to the gradient; actlab's weight decay λ adds λ·w.
            weight_decay=float(self.alpha) / min(self._batch_size(X.shape[0]), X.shape[0]),
            batch_size=self._batch_size(X.shape[0]),
            learning_rate=float(self.learning_rate_init),
            epochs=int(self.max_iter),
            patience=int(self.n_iter_no_change) if self.early_stopping else None,
            validation_fraction=float(self.validation_fraction),
            seed=self._seed(),
            n_threads=self.n_threads,
            **target,
        )
        self.model_ = model
        self._record(json.loads(history), reset=True)
        return self

    def _is_classifier(self):
        return isinstance(self, ClassifierMixin)

    def _record(self, history, reset):
        epochs = history["epochs"]
        losses = [e["train_loss"] for e in epochs]
        self.loss_curve_ = (list(getattr(self, "loss_curve_", [])) if not reset else []) + losses
        self.n_iter_ = (0 if reset else getattr(self, "n_iter_", 0)) + len(epochs)
        self.loss_ = self.loss_curve_[-1]
        self.best_loss_ = min(self.loss_curve_)
        scores = [e.get("val_score") for e in epochs]
        self.validation_scores_ = scores if self.early_stopping and not reset or any(s is not None for s in scores) else None
        self.history_ = history

    def partial_fit(self, X, y, classes=None):
        """One more epoch on ``X``, ``y`` (a new model on the first call)."""
        if not hasattr(self, "model_"):
            if self._is_classifier():
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit")
                X, y = validate_data(self, X, y, dtype=np.float32, order="C")
                self.classes_ = np.asarray(classes)
            else:
                X, y = validate_data(self, X, y, dtype=np.float32, order="C", y_numeric=True)
            saved = self.max_iter
            try:
                self.max_iter = 1
                return self._fit(X, y)
            finally:
                self.max_iter = saved
        X, y = validate_data(self, X, y, dtype=np.float32, order="C", reset=False, y_numeric=not self._is_classifier())
        model, history = self.model_.partial_fit(
            X,
            epochs=1,
            batch_size=self._batch_size(X.shape[0]),
            learning_rate=float(self.learning_rate_init),
            seed=self._seed(),
            n_threads=self.n_threads,
            **self._target(y, reset=False),
        )
        self.model_ = model
        self._record(json.loads(history), reset=False)
        return self

    def _outputs(self, X):
        check_is_fitted(self, "model_")
        if not (
            # A float32 C-contiguous matrix of the right width for a model fitted without feature
            # names goes straight to the library, which reads it without a copy: scikit-learn's
            # validation would cost more than predicting a row. Its sum is finite when every value
            # is (a finite sum that overflows only sends X through the validation); unlike
            # np.isfinite(X).all() it makes no temporary array as large as X.
            type(X) is np.ndarray
            and X.dtype == np.float32
            and X.ndim == 2
            and X.flags.c_contiguous
            and 0 < X.shape[0]
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
            and np.isfinite(X.sum())
        ):
            X = validate_data(self, X, dtype=np.float32, order="C", reset=False)
        return self.model_.predict(X)

    def to_onnx(self, path=None):
        """The fitted model as an ONNX graph (opset 17): its bytes, also written to ``path`` if given.

        Input ``features`` (float32 ``[N, n_features_in_]``); outputs ``probabilities`` and
        ``label`` (the predicted class of ``classes_`` as a string) for a classifier,
        ``prediction`` ``[N, 1]`` for a regressor.
        """
        check_is_fitted(self, "model_")
        data = self.model_.to_onnx()
        if path is not None:
            with open(path, "wb") as f:
                f.write(data)
        return data

    def to_safetensors(self):
        """The bytes of an actlab model file (``actlab eval``/``predict``/``export`` read it)."""
        check_is_fitted(self, "model_")
        return self.model_.to_bytes()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained by actlab (softmax output for several classes,
    sigmoid for two, unless ``output_activation`` says otherwise).

    Parameters follow :class:`sklearn.neural_network.MLPClassifier` where it has the concept;
    ``activation`` is one actlab activation name (``"gelu"``, ``"leaky_relu:0.2"``) or one per
    hidden layer, and ``output_activation``, ``init``, ``residual`` and ``n_threads`` are actlab's.
    """

    def _target(self, y, reset):
        if reset:
            check_classification_targets(y)
            y = column_or_1d(y, warn=True)
            if not hasattr(self, "classes_") or not getattr(self, "_partial", False):
                self.classes_ = np.unique(y)
        else:
            y = column_or_1d(y, warn=True)
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[index] == y):
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            raise ValueError(f"y has labels {unknown.tolist()} that are not in classes {self.classes_.tolist()}")
        return {"labels": index.astype(np.int64), "classes": [str(c) for c in self.classes_], "values": None}

    def fit(self, X, y):
        """Trains a new network on ``X``, ``y``."""
        self._partial = False
        return self._fit(X, y)

    def partial_fit(self, X, y, classes=None):
        self._partial = True
        return super().partial_fit(X, y, classes)

    def predict_proba(self, X):
        """Class probabilities, one column per class of ``classes_``."""
        return self._outputs(X)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row."""
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained by actlab (identity output; targets are
    standardized for training and predictions mapped back).

    Parameters as for :class:`MLPClassifier`.
    """

    def _target(self, y, reset):
        y = column_or_1d(y, warn=True)
        return {"labels": None, "classes": [], "values": np.ascontiguousarray(y, dtype=np.float32)}

    def fit(self, X, y):
        """Trains a new network on ``X``, ``y``."""
        return self._fit(X, y)

    def predict(self, X):
        """Predicted values, in the target's units."""
        return self._outputs(X)[:, 0].astype(np.float64)


def diagnose(estimator, X, y, max_samples=2000):
    """Dead and saturated units and gradient flow per layer of a fitted estimator, measured on
    (at most ``max_samples`` rows of) ``X`` with targets ``y``, as a dict."""
    check_is_fitted(estimator, "model_")
    X = validate_data(estimator, X, dtype=np.float32, order="C", reset=False)
    target = estimator._target(np.asarray(y), reset=False)
    return json.loads(estimator.model_.diagnose(X, max_samples=max_samples, **target))


def _frame(records):
    """``records`` as a pandas DataFrame (nested figures flattened) when pandas is installed."""
    try:
        import pandas as pd
    except ImportError:
        return records
    return pd.json_normalize(records)


def _classes_or_values(y, classes=None):
    """Keyword arguments for the Rust side: class indices into ``classes`` or float32 values."""
    y = np.asarray(y)
    if classes is not None:
        index = np.searchsorted(classes, y).clip(0, len(classes) - 1)
        if not np.all(classes[index] == y):
            raise ValueError(f"y has labels that are not in classes {classes.tolist()}")
        return {"labels": index.astype(np.int64), "classes": [str(c) for c in classes], "values": None}
    return {"labels": None, "classes": [], "values": np.ascontiguousarray(y, dtype=np.float32)}


def compare(X, y, X_test=None, y_test=None, *, activations=("relu", "tanh", "gelu"), hidden_layer_sizes=(64,),
            seeds=(0,), max_iter=None, batch_size=32, learning_rate_init=0.001, task=None):
    """Trains the same network once per activation and seed (same data, same seeds) and compares
    them, as ``actlab compare`` does: a dict with ``summaries`` (one per activation: scores, loss,
    epochs to target, dead and saturated fractions, gradient ratio) and ``runs`` (one per run),
    each a pandas DataFrame when pandas is installed.

    Without ``X_test`` a stratified fifth of ``X`` is held out. ``task`` is ``"classification"``
    or ``"regression"``; by default classification unless ``y`` is floating point.
    """
    from sklearn.model_selection import train_test_split

    X = np.ascontiguousarray(X, dtype=np.float32)
    y = np.asarray(y)
    classify = task == "classification" or (task is None and not np.issubdtype(y.dtype, np.floating))
    if X_test is None:
        X, X_test, y, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y if classify else None)
    classes = np.unique(y) if classify else None
    train = _classes_or_values(y, classes)
    test = _classes_or_values(y_test, classes)
    result = json.loads(_actlab.compare(
        X, x_test=np.ascontiguousarray(X_test, dtype=np.float32), labels_test=test["labels"],
        values_test=test["values"], activations=[str(a) for a in activations], hidden=list(hidden_layer_sizes),
        seeds=[int(s) for s in seeds], epochs=max_iter, batch_size=int(batch_size),
        learning_rate=float(learning_rate_init), **train))
    result["summaries"] = _frame(result["summaries"])
    result["runs"] = _frame(result["runs"])
    return result


def experiments(ids=None, quick=False):
    """Runs actlab's experiments on claims about activation functions (``actlab experiments``):
    all nine, or those numbered in ``ids``; ``quick`` runs the smaller version the tests use.
    One record per experiment (claim, criterion, measurements, whether it holds), a pandas
    DataFrame when pandas is installed."""
    return _frame(json.loads(_actlab.experiments(None if ids is None else [int(i) for i in ids], bool(quick))))
