"""actlab: multi-layer perceptrons where activation functions are the centre of attention.

The estimators :class:`MLPClassifier` and :class:`MLPRegressor` follow scikit-learn's
contract; the engine is actlab's Rust library (``actlab._actlab``).
"""

from . import activations
from ._estimators import MLPClassifier, MLPRegressor, compare, diagnose, experiments

__all__ = ["MLPClassifier", "MLPRegressor", "activations", "compare", "diagnose", "experiments"]
