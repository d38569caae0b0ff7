"""Step-by-step inference through a recurrent stack, one time step per call, state carried.

For online use (a sensor feed, a trading signal, a generator producing one token at a time)
``forward`` over a one-step sequence pays its per-call costs every step: argument checks,
transposes, packing ``W_hh``, allocating workspaces. A :class:`RecurrentStream` pays them once
when it is opened (``module.stream()``): it packs every layer's weights and keeps the state in
the extension, so a step is the gate math and little else.
"""

from __future__ import annotations

import numpy as np

from rnnfast._validation import as_float_array, check_positive_int
from rnnfast.backends import cpu

__all__ = ["RecurrentStream"]


class RecurrentStream:
    """A unidirectional recurrent stack run one time step per :meth:`step`, carrying its state.

    Open one with :meth:`RecurrentStack.stream`. Each :meth:`step` gives the same output as
    ``forward`` would at that time step of the concatenated sequence (same kernels, same
    order of operations; checked against ``forward`` and ``torch`` in the tests).

    A stream opened on a reduced-precision frozen module (``module.freeze(precision="int8")``)
    steps in that precision, with the same results as that module's ``forward``.

    The weights are copied when the stream is opened: later changes to the module's parameters
    (an optimizer step, ``load_state_dict``) are not seen; open a new stream after them.

    Parameters
    ----------
    module : RecurrentStack
        A unidirectional :class:`~rnnfast.nn.RNN`, :class:`~rnnfast.nn.LSTM` or
        :class:`~rnnfast.nn.GRU`.
    batch_size : int, default 1
        Independent sequences stepped together.
    hx : array-like, optional
        Initial state, shaped as ``forward``'s ``hx``: ``(num_layers, batch_size,
        hidden_size)``, a tuple ``(h0, c0)`` for LSTM. Zeros when omitted.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnfast.nn import LSTM
    >>> lstm = LSTM(3, 5, random_state=0)
    >>> stream = lstm.stream()
    >>> x = np.ones((1, 3), np.float32)
    >>> stream.step(x).shape
    (1, 5)
    >>> h, c = stream.state
    >>> h.shape
    (1, 1, 5)
    """

    def __init__(self, module, batch_size: int = 1, hx=None) -> None:
        if module.bidirectional:
            raise ValueError(
                "stream() needs a unidirectional network: a bidirectional one reads each "
                "sequence backwards from its end, which a stream has not seen yet"
            )
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.input_size = module.input_size
        self.hidden_size = module.hidden_size
        self.dtype = module.dtype
        self._module_name = type(module).__name__
        self._has_cell_state = module._has_cell_state
        self._initial_state = module._initial_state  # the module's own hx checks
        weights = [module._layer_weights(layer, 0) for layer in range(module.num_layers)]
        open_stream = cpu.Stream32 if self.dtype == np.float32 else cpu.Stream64
        self.precision = module.precision  # a reduced-precision frozen module streams so too
        self._core = open_stream(
            module._cell,
            *zip(*weights, strict=True),
            batch=self.batch_size,
            precision=self.precision,
        )
        self.reset(hx)

    def step(self, x) -> np.ndarray:
        """Advance every sequence by one time step.

        Parameters
        ----------
        x : array-like of shape (batch_size, input_size)
            This step's input; a 1-D ``(input_size,)`` array when ``batch_size`` is 1. Cast to
            the module's dtype; must be finite.

        Returns
        -------
        ndarray of shape (batch_size, hidden_size)
            The top layer's new hidden state (``(hidden_size,)`` for a 1-D ``x``): the
            ``output`` of ``forward`` at this step.
        """
        # Fast path: an array already in the kernel's layout goes straight to the extension,
        # which checks its shape and finiteness.
        if type(x) is np.ndarray and x.dtype == self.dtype and x.ndim == 2 and x.flags.c_contiguous:
            return self._core.step(x)
        if np.ndim(x) == 1 and self.batch_size == 1:
            return self._core.step(as_float_array(x, "x", self.dtype, (self.input_size,))[None])[0]
        shape = (self.batch_size, self.input_size)
        return self._core.step(as_float_array(x, "x", self.dtype, shape))

    @property
    def state(self):
        """The carried state, shaped as ``forward``'s ``h_n`` (``(h_n, c_n)`` for LSTM); copies."""
        h, c = self._core.state()
        return (h, c) if self._has_cell_state else h

    def reset(self, hx=None) -> None:
        """Start new sequences: set the state to ``hx``.

        Parameters
        ----------
        hx : ndarray or tuple, optional
            The initial state, in the same form as in the constructor; None: zeros.
        """
        h0, c0 = self._initial_state(hx, self.batch_size)
        self._core.set_state(np.ascontiguousarray(h0), None if c0 is None else c0)

    def __repr__(self) -> str:
        return (
            f"RecurrentStream({self._module_name}, batch_size={self.batch_size}, "
            f"input_size={self.input_size}, hidden_size={self.hidden_size})"
        )
