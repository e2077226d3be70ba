"""scikit-learn's own estimator checks, and the estimators inside scikit-learn's tools."""

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import actlab


@parametrize_with_checks([actlab.MLPClassifier(random_state=0), actlab.MLPRegressor(random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_pipeline_grid_search_and_cross_validation():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), actlab.MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() > 0.85, scores
    grid = GridSearchCV(
        pipe, {"mlpclassifier__activation": ["relu", "tanh"], "mlpclassifier__hidden_layer_sizes": [(8,), (16,)]}, cv=3
    )
    grid.fit(X, y)
    assert grid.best_params_["mlpclassifier__activation"] in ("relu", "tanh")
    assert grid.best_score_ > 0.85


def test_regressor_in_cross_validation():
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    scores = cross_val_score(actlab.MLPRegressor(max_iter=300, random_state=0), X, y, cv=3, scoring="r2")
    assert scores.mean() > 0.9, scores
