"""``state_dict`` / ``load_state_dict`` over a module's ``params``, and read-only snapshots of
them for frozen (inference-only) modules, shared by the modules."""

from __future__ import annotations

import copy

import numpy as np

from rnnfast._validation import as_float_array


class StateDictMixin:
    """torch's weight interchange for modules holding ``params`` (name -> live array) and a
    ``dtype``; :meth:`_forget_forward` drops what a forward kept (it used the old weights)."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """Return copies of the parameters, keyed and shaped as the matching torch module's.

        Returns
        -------
        dict of str to ndarray
            The copies.
        """
        return {name: value.copy() for name, value in self.params.items()}

    def load_state_dict(self, state_dict: dict) -> None:
        """Copy parameters in from a mapping with exactly the keys of :meth:`state_dict`.

        A cached forward is dropped, as it used the old weights.

        Parameters
        ----------
        state_dict : mapping of str to array-like
            Values of the right shapes (e.g. ``tensor.numpy()``); they are cast to this module's
            dtype.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"state_dict must be a mapping, got {type(state_dict).__name__}")
        missing = [k for k in self.params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in self.params]
        if missing or unexpected:
            raise ValueError(
                f"state_dict keys do not match: missing {missing}, unexpected {unexpected}"
            )
        loaded = {
            name: as_float_array(
                state_dict[name], f"state_dict[{name!r}]", self.dtype, current.shape
            )
            for name, current in self.params.items()
        }
        for name, value in loaded.items():
            self.params[name][...] = value
        self._forget_forward()
        self.grads = None

    def _forget_forward(self) -> None:
        """Drop whatever the last training forward kept for its backward."""


def read_only_copy(array: np.ndarray) -> np.ndarray:
    """A copy of ``array`` that rejects in-place writes (a frozen module's weights)."""
    copied = np.array(array, copy=True)
    copied.flags.writeable = False
    return copied


def read_only_params(params: dict) -> dict:
    """``params`` with every array replaced by a read-only copy (a frozen module's weights)."""
    return {name: read_only_copy(value) for name, value in params.items()}


def parameter_snapshot(module):
    """A shallow copy of ``module`` that owns read-only copies of its parameters and no
    gradients: later training of ``module`` does not reach it, and it cannot be trained."""
    snapshot = copy.copy(module)
    snapshot.params = read_only_params(module.params)
    snapshot.grads = None
    return snapshot
