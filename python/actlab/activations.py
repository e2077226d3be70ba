"""actlab's activation functions and their derivatives as numpy functions on float32 arrays.

``actlab.activations.gelu(x)`` is GELU (``gelu_tanh`` its tanh form) of every element; ``actlab.activations.gelu.derivative(x)``
its derivative. Parameters go in the name: ``actlab.activations.get("leaky_relu:0.2")(x)``.
Softmax works on whole rows and is not here.
"""

import numpy as np

from . import _actlab


def _floats(x):
    """``x`` as a float32 array (a copy unless it is one); a TypeError for what has no real
    value (complex numbers, text, objects)."""
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"activations take real numbers, got an array of dtype {array.dtype}")
    return array.astype(np.float32, copy=False)


class Activation:
    """One activation function: call it for ``f(x)``, ``.derivative(x)`` for ``f'(x)``."""

    def __init__(self, name):
        if not isinstance(name, str):
            raise TypeError(f"an activation is given by its name, a string, not {name!r}")
        self.name = _actlab.check_activation(name)
        if self.name == "softmax":
            raise ValueError("softmax works on whole rows, not on single values: it is not among these functions")

    def __call__(self, x):
        return _actlab.activation(self.name, _floats(x), False)

    def derivative(self, x):
        """``f'(x)`` elementwise."""
        return _actlab.activation(self.name, _floats(x), True)

    def __repr__(self):
        return f"actlab.activations.get({self.name!r})"


def get(name):
    """The activation called ``name`` in actlab's CLI form, e.g. ``"elu:0.5"``."""
    return Activation(name)


names = [n for n in _actlab.activation_names() if n != "softmax"]
for _name in names:
    globals()[_name.replace(":", "_")] = Activation(_name)
__all__ = ["get", "names", "Activation"] + [n.replace(":", "_") for n in names]
