"""scikit-learn estimators over actlab's Rust engine."""

import json
import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_array, check_consistent_length, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import _actlab

# scikit-learn's solver names that actlab spells otherwise: its "sgd" has Nesterov momentum 0.9.
_SOLVERS = {"sgd": "nesterov"}

# Outputs whose values predict_proba can return as probabilities.
_CLASSIFIER_OUTPUTS = ("softmax", "sigmoid")


def _integer(name, value, low=1):
    """``value`` as an int (below 2**63), or a ValueError naming the parameter ``name``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or not low <= value < 2**63:
        bound = "a positive integer" if low == 1 else f"an integer of at least {low}"
        raise ValueError(f"{name} must be {bound} (below 2**63), got {value!r}")
    return int(value)


def _number(name, value, low=0.0, high=math.inf, low_open=False, high_open=True):
    """``value`` as a finite float in the interval, or a ValueError naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < low or (low_open and value == low) or value > high or (high_open and value == high):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return float(value)


def _names(name, value):
    """``value``, one string or a sequence of strings, as a list of strings."""
    if isinstance(value, str):
        return [value]
    try:
        names = list(value)
    except TypeError:
        names = None
    if names is None or not all(isinstance(v, str) for v in names):
        raise ValueError(f"{name} must be a name or a list of names, got {value!r}")
    return names


def _sizes(name, value):
    """Layer sizes: one positive integer or a sequence of them (possibly empty). Sizes are
    bounded by what the extension takes (below 2**63); long before that, training refuses the
    network with its memory estimate."""
    sizes = [value] if isinstance(value, Integral) else value
    try:
        sizes = None if isinstance(sizes, str) else list(sizes)
    except TypeError:
        sizes = None
    if sizes is None or not all(isinstance(s, Integral) and not isinstance(s, bool) and 1 <= s < 2**63 for s in sizes):
        raise ValueError(f"{name} must be a positive integer or a sequence of them (below 2**63), got {value!r}")
    return [int(s) for s in sizes]


def _n_threads(value):
    """``n_threads``: None (every core) or a positive integer."""
    return None if value is None else _integer("n_threads", value)


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

    def _batch_size(self, n):
        if isinstance(self.batch_size, str) and self.batch_size == "auto":
            return max(1, min(200, n))
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, Integral) or self.batch_size < 1:
            raise ValueError(f"batch_size must be 'auto' or a positive integer, got {self.batch_size!r}")
        return int(self.batch_size)

    def _dropout(self):
        rates = [self.dropout] if isinstance(self.dropout, Real) else self.dropout
        try:
            rates = list(rates)
        except TypeError:
            rates = [None]
        return [_number("dropout", r, 0.0, 1.0) for r in rates]

    def _check_params(self):
        """The parameters as the extension takes them; a ValueError naming the first bad one."""
        if self.output_activation is not None and not isinstance(self.output_activation, str):
            raise ValueError(f"output_activation must be None or a name, got {self.output_activation!r}")
        if self._is_classifier() and self.output_activation is not None:
            name = self.output_activation.split(":")[0].strip().lower()
            if name not in _CLASSIFIER_OUTPUTS:
                raise ValueError(
                    f"output_activation must be 'softmax' or 'sigmoid' for a classifier (predict_proba returns "
                    f"its values as probabilities), got {self.output_activation!r}; use MLPRegressor for other outputs"
                )
        for name in ("solver", "init"):
            value = getattr(self, name)
            if not isinstance(value, str) and not (name == "init" and value is None):
                raise ValueError(f"{name} must be a name, got {value!r}")
        if self.early_stopping:
            _number("validation_fraction", self.validation_fraction, 0.0, 1.0, low_open=True)
        return {
            "hidden": _sizes("hidden_layer_sizes", self.hidden_layer_sizes),
            "activations": _names("activation", self.activation),
            "dropout": self._dropout(),
            "alpha": _number("alpha", self.alpha),
            "learning_rate": _number("learning_rate_init", self.learning_rate_init, low_open=True),
            "epochs": _integer("max_iter", self.max_iter),
            "patience": _integer("n_iter_no_change", self.n_iter_no_change) if self.early_stopping else None,
            "tol": _number("tol", self.tol),
            "n_threads": _n_threads(self.n_threads),
        }

    def _seed(self):
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _target(self, y):
        """Keyword arguments that give the Rust side its target."""
        raise NotImplementedError

    def _fit(self, X, y):
        params = self._check_params()
        name = getattr(y, "name", None)
        X, y = self._validate_training_data(X, y, reset=True)
        target = self._target(y, reset=True)
        names = [str(n) for n in getattr(self, "feature_names_in_", [])] or None
        model, history, optimizer_state = _actlab.fit(
            X,
            hidden=params["hidden"],
            activations=params["activations"],
            output=self.output_activation,
            init=self.init,
            residual=bool(self.residual),
            dropout=params["dropout"],
            optimizer=_SOLVERS.get(self.solver, self.solver),
            # scikit-learn adds α·w / batch_size to the gradient; actlab's weight decay λ adds λ·w.
            weight_decay=params["alpha"] / min(self._batch_size(X.shape[0]), X.shape[0]),
            batch_size=self._batch_size(X.shape[0]),
            learning_rate=params["learning_rate"],
            epochs=params["epochs"],
            patience=params["patience"],
            validation_fraction=float(self.validation_fraction),
            seed=self._seed(),
            n_threads=params["n_threads"],
            feature_names=names,
            # A pandas Series' name, so that `actlab eval` finds the target column by it.
            target_name=name if isinstance(name, str) and name not in (names or []) else None,
            **target,
        )
        self.model_ = model
        # The optimizer's moments and step count, which partial_fit carries on from (as
        # scikit-learn keeps its solver between calls).
        self._optimizer_state = (self.solver, optimizer_state)
        self._record(json.loads(history), reset=True)
        return self

    def _validate_training_data(self, X, y, reset):
        # The library refuses a feature that is NaN or infinite, naming its row and column,
        # while it standardizes the features, which reads every value anyway; scikit-learn's
        # own check would be one more pass over X (8 ms of a fit on Fashion-MNIST's 188 MB).
        return validate_data(
            self, X, y, dtype=np.float32, order="C", reset=reset, ensure_all_finite=False,
            y_numeric=not self._is_classifier(),
        )

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
        if self.early_stopping:
            # As scikit-learn: an epoch at a time has no validation split to stop on.
            raise ValueError("partial_fit does not support early_stopping=True")
        if self._is_classifier() and classes is not None:
            classes = np.unique(np.asarray(classes))
            if hasattr(self, "model_") and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes.tolist()} is not the same as on the first call to partial_fit, "
                    f"was {self.classes_.tolist()}"
                )
        if not hasattr(self, "model_"):
            if self._is_classifier():
                if classes is None:
                    raise ValueError("classes must be passed on the first call to partial_fit")
                if len(classes) < 2:
                    raise ValueError(f"classes must hold at least two classes, got {classes.tolist()}")
                self.classes_ = classes
            # _fit validates X itself: validating it here first would hand _fit an array without
            # the DataFrame's column names, which would then be forgotten.
            saved = self.max_iter
            try:
                self.max_iter = 1
                return self._fit(X, y)
            finally:
                self.max_iter = saved
        params = self._check_params()
        X, y = self._validate_training_data(X, y, reset=False)
        batch_size = self._batch_size(X.shape[0])
        model, history, optimizer_state = self.model_.partial_fit(
            X,
            epochs=1,
            batch_size=batch_size,
            learning_rate=params["learning_rate"],
            # Each call shuffles in its own order, and the same calls the same way again.
            seed=self._seed() + self.n_iter_,
            n_threads=params["n_threads"],
            optimizer=_SOLVERS.get(self.solver, self.solver),
            weight_decay=params["alpha"] / min(batch_size, X.shape[0]),
            optimizer_state=self._carried_optimizer_state(),
            **self._target(y, reset=False),
        )
        self.model_ = model
        self._optimizer_state = (self.solver, optimizer_state)
        self._record(json.loads(history), reset=False)
        return self

    def _carried_optimizer_state(self):
        """The optimizer's state after the last call, unless `solver` changed since (a new
        solver starts afresh)."""
        solver, state = getattr(self, "_optimizer_state", (None, None))
        return state if solver == self.solver else None

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

        Input ``features`` (float32 ``[N, n_features_in_]``, the columns in the order of
        ``feature_names_in_`` when fitted on a DataFrame: the graph's metadata ``features``
        lists them); outputs ``probabilities`` and ``label`` (the predicted class of
        ``classes_`` as a string) for a classifier, ``prediction`` ``[N, 1]`` for a regressor.
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
        return _class_indices(y, self.classes_)

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
        return _values(column_or_1d(y, warn=True))

    def fit(self, X, y):
        """Trains a new network on ``X``, ``y``."""
        return self._fit(X, y)

    def predict(self, X):
        """Predicted values, in the target's units."""
        return self._outputs(X)[:, 0].astype(np.float64)


#: The figures of a diagnosis that come from the loss's gradient, which needs true targets.
_GRADIENT_FIGURES = ("grad_norm", "grad_to_weight", "same_sign_share")


def diagnose(estimator, X, y=None, max_samples=2000):
    """Dead and saturated units, activation statistics and gradient flow per layer of a fitted
    estimator, measured on (at most ``max_samples`` rows of) ``X`` with targets ``y``, as a dict.

    Without ``y``, the figures of the forward pass alone: dead and saturated units, the
    activations' mean, spread and pre-activation histogram, the weights' norms. The gradient
    figures (each layer's ``grad_norm``, ``grad_to_weight`` and ``same_sign_share``, and
    ``gradient_ratio`` and ``verdict``) are then None: a gradient is the loss's, against true
    targets."""
    check_is_fitted(estimator, "model_")
    max_samples = _integer("max_samples", max_samples)
    X = validate_data(estimator, X, dtype=np.float32, order="C", reset=False)
    forward_only = y is None
    if forward_only:
        # The forward figures do not depend on the targets: any valid ones serve the call.
        y = estimator.classes_[np.zeros(len(X), dtype=np.intp)] if estimator._is_classifier() else np.zeros(len(X))
    y = column_or_1d(y)
    check_consistent_length(X, y)
    target = estimator._target(y, reset=False)
    report = json.loads(estimator.model_.diagnose(X, max_samples=max_samples, **target))
    if forward_only:
        for layer in report["layers"]:
            layer.update(dict.fromkeys(_GRADIENT_FIGURES))
        report["gradient_ratio"] = report["verdict"] = None
    return report


def _frame(records):
    """``records`` as a pandas DataFrame (nested figures flattened) when pandas is installed.

    A figure that is a dict of statistics in some records and None in others (saturation, which
    only saturating activations have) becomes its statistics' columns, NaN where it was None,
    rather than those columns plus one column of Nones under its own name."""
    try:
        import pandas as pd
    except ImportError:
        return records
    frame = pd.json_normalize(records)
    nested = [c for c in frame.columns if any(other.startswith(f"{c}.") for other in frame.columns)]
    return frame.drop(columns=[c for c in nested if frame[c].isna().all()])


def _class_indices(y, classes):
    """Keyword arguments for the Rust side: the index of each label of ``y`` in ``classes``
    (sorted, as np.unique gives them); a ValueError naming the labels not in ``classes``."""
    y = np.asarray(y)
    try:
        index = np.searchsorted(classes, y).clip(0, len(classes) - 1)
        known = np.asarray(classes[index] == y, dtype=bool)
    except TypeError:  # labels that do not compare with the classes (text against numbers)
        index, known = None, np.zeros(len(y), dtype=bool)
    if not known.all() or index is None:
        unknown = list(dict.fromkeys(y[~known].tolist()))
        raise ValueError(f"y has labels {unknown[:10]} that are not in classes {classes.tolist()}")
    return {"labels": index.astype(np.int64), "classes": [str(c) for c in classes], "values": None}


def _values(y):
    """Keyword arguments for the Rust side: the float32 values of ``y``, all finite."""
    y = np.asarray(y)
    if y.dtype.kind == "O":  # numbers in an object array (a pandas object column)
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            pass
    if y.dtype.kind not in "biuf":
        raise ValueError(f"y must hold numbers for a regression, got dtype {y.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.ascontiguousarray(y, dtype=np.float32)
    bad = ~np.isfinite(values)
    if bad.any():
        first = float(np.asarray(y)[bad][0])
        raise ValueError(
            f"y has the value {first:g}, which is not finite in float32 (actlab trains in float32: "
            f"values up to ±3.4e38); rescale the target"
        )
    return {"labels": None, "classes": [], "values": values}


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

    if task not in (None, "classification", "regression"):
        raise ValueError(f"task must be None, 'classification' or 'regression', got {task!r}")
    if (X_test is None) != (y_test is None):
        raise ValueError("give both X_test and y_test, or neither")
    activations = _names("activations", activations)
    hidden = _sizes("hidden_layer_sizes", hidden_layer_sizes)
    seeds = [_integer("seeds", s, low=0) for s in ([seeds] if isinstance(seeds, Integral) else seeds)]
    epochs = None if max_iter is None else _integer("max_iter", max_iter)
    batch_size = _integer("batch_size", batch_size)
    learning_rate = _number("learning_rate_init", learning_rate_init, low_open=True)

    def data(X, y):
        X = check_array(X, dtype=np.float32, order="C", input_name="X")
        y = column_or_1d(y)
        check_consistent_length(X, y)
        return X, y

    X, y = data(X, y)
    classify = task == "classification" or (task is None and not np.issubdtype(y.dtype, np.floating))
    if X_test is None:
        X, X_test, y, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y if classify else None)
    X_test, y_test = data(X_test, y_test)
    if X_test.shape[1] != X.shape[1]:
        raise ValueError(f"X_test has {X_test.shape[1]} features but X has {X.shape[1]}")
    if classify:
        check_classification_targets(y)
        classes = np.unique(y)
        train, test = _class_indices(y, classes), _class_indices(y_test, classes)
    else:
        train, test = _values(y), _values(y_test)
    result = json.loads(_actlab.compare(
        X, x_test=X_test, labels_test=test["labels"], values_test=test["values"], activations=activations,
        hidden=hidden, seeds=seeds, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, **train))
    result["summaries"] = _frame(result["summaries"])
    result["runs"] = _frame(result["runs"])
    return result


def experiments(ids=None, quick=False):
    """Runs actlab's experiments on claims about activation functions (``actlab experiments``):
    all nine, or those numbered in ``ids``; ``quick`` runs the smaller version the tests use.
    One record per experiment (claim, criterion, measurements, whether it holds), a pandas
    DataFrame when pandas is installed."""
    if ids is not None:
        ids = [ids] if isinstance(ids, Integral) else list(ids)
        if not all(isinstance(i, Integral) and -(2**63) <= i < 2**63 for i in ids):
            raise ValueError(f"ids must be experiment numbers (integers), got {ids!r}")
        ids = [int(i) for i in ids]
    return _frame(json.loads(_actlab.experiments(ids, bool(quick))))
