"""actlab's activation functions and their derivatives as numpy functions on float32 arrays.

``actlab.activations.gelu(x)`` is GELU (``gelu_tanh`` its tanh form) of every element; ``actlab.activations.gelu.derivative(x)``
its derivative. Parameters go in the name: ``actlab.activations.get("leaky_relu:0.2")(x)``.
Softmax works on whole rows and is not here.
"""

import numpy as np

from . import _actlab


class Activation:
    """One activation function: call it for ``f(x)``, ``.derivative(x)`` for ``f'(x)``."""

    def __init__(self, name):
        self.name = _actlab.check_activation(name)

    def __call__(self, x):
        return _actlab.activation(self.name, np.asarray(x, dtype=np.float32), False)

    def derivative(self, x):
        """``f'(x)`` elementwise."""
        return _actlab.activation(self.name, np.asarray(x, dtype=np.float32), True)

    def __repr__(self):
        return f"actlab.activations.get({self.name!r})"


def get(name):
    """The activation called ``name`` in actlab's CLI form, e.g. ``"elu:0.5"``."""
    return Activation(name)


names = [n for n in _actlab.activation_names() if n != "softmax"]
for _name in names:
    globals()[_name.replace(":", "_")] = Activation(_name)
__all__ = ["get", "names", "Activation"] + [n.replace(":", "_") for n in names]
