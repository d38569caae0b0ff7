"""``state_dict`` / ``load_state_dict`` over a module's ``params``, shared by the modules."""

from __future__ import annotations

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
