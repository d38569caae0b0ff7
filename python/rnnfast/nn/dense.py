"""A fully connected layer ``y = x @ W.T + b`` with its backward beside it."""

from __future__ import annotations

import numpy as np

from rnnfast._saving import SaveMixin
from rnnfast._validation import check_dtype, check_loaded_parameters, check_positive_int
from rnnfast.nn.init import as_generator, torch_default_uniform
from rnnfast.persistence import persistable


@persistable(reset={"grads": None, "_input": None})
class Linear(SaveMixin):
    """Affine map over the last axis, ``torch.nn.Linear``-compatible (``weight`` is ``(out, in)``).

    Parameters
    ----------
    in_features, out_features : int
        Input and output features.
    dtype : numpy.float32 or numpy.float64, default float32
        Precision of the parameters and computations.
    random_state : int, numpy.random.Generator or None
        Seeds ``U(-1/sqrt(in_features), 1/sqrt(in_features))``, torch's default.

    Attributes
    ----------
    params : dict with ``"weight"`` ``(out_features, in_features)`` and ``"bias"`` ``(out,)``
    grads : dict like ``params``, or None before the first :meth:`backward`
    """

    _saved_attributes = frozenset({"in_features", "out_features", "dtype", "params", "grads"}) | {
        "_input"
    }

    def __init__(
        self,
        in_features: int,
        out_features: int,
        dtype: object = np.float32,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.in_features = check_positive_int(in_features, "in_features")
        self.out_features = check_positive_int(out_features, "out_features")
        self.dtype = check_dtype(dtype)
        rng = as_generator(random_state)
        self.params = {
            "weight": torch_default_uniform(
                rng, (out_features, in_features), in_features, self.dtype
            ),
            "bias": torch_default_uniform(rng, (out_features,), in_features, self.dtype),
        }
        self.grads: dict[str, np.ndarray] | None = None
        self._input: np.ndarray | None = None

    def _check_loaded_state(self) -> None:
        """Called by :func:`rnnfast.load`: sizes, dtype and parameters agree."""
        check_positive_int(self.in_features, "Linear.in_features")
        check_positive_int(self.out_features, "Linear.out_features")
        if check_dtype(self.dtype) != self.dtype:
            raise TypeError(f"Linear.dtype must be a numpy dtype, got {self.dtype!r}")
        shapes = {"weight": (self.out_features, self.in_features), "bias": (self.out_features,)}
        check_loaded_parameters(self.params, shapes, self.dtype, "Linear")

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        """Apply the map to the last axis of ``x``.

        Parameters
        ----------
        x : ndarray of shape (..., in_features)
            The input.
        training : bool, default True
            Keep ``x`` for :meth:`backward` (an inference forward leaves the last training
            input in place).

        Returns
        -------
        ndarray of shape (..., out_features)
            The output, accumulated in float64 and rounded once, so it does not depend on the
            batch.
        """
        if training:
            self._input = x
        # Accumulate in float64 and round once: float32 BLAS results depend on the number of
        # rows (kernel blocking), which would make a sample's output depend on its batch.
        out = np.matmul(x, self.params["weight"].T, dtype=np.float64) + self.params["bias"]
        return out.astype(self.dtype, copy=False)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Backpropagate through the last training :meth:`forward`; sets :attr:`grads`.

        Parameters
        ----------
        grad_output : ndarray of shape (..., out_features)
            Gradient of the loss w.r.t. the output.

        Returns
        -------
        ndarray of shape (..., in_features)
            Gradient w.r.t. the input.
        """
        if self._input is None:
            raise RuntimeError("Linear.backward() needs a forward(..., training=True) first")
        x2 = self._input.reshape(-1, self.in_features)
        g2 = grad_output.reshape(-1, self.out_features)
        self.grads = {"weight": g2.T @ x2, "bias": g2.sum(axis=0)}
        return grad_output @ self.params["weight"]
