"""Recurrent stacks (RNN, LSTM, GRU) with torch-compatible parameters and explicit BPTT.

The layer/direction machinery lives in :class:`RecurrentStack`; the subclasses only name
their cell. Arrays are batch-first in the API and time-major inside (one transpose each way).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import numpy as np

from rnnfast._saving import SaveMixin
from rnnfast._validation import (
    as_float_array,
    check_bool,
    check_dtype,
    check_generator,
    check_lengths,
    check_loaded_parameters,
    check_positive_int,
    check_precision,
    check_probability,
)
from rnnfast.backends import cpu
from rnnfast.nn._docs import documented
from rnnfast.nn._parameters import StateDictMixin, read_only_params
from rnnfast.nn.dropout import dropout_mask
from rnnfast.nn.init import as_generator, torch_default_uniform
from rnnfast.nn.stream import RecurrentStream
from rnnfast.persistence import persistable

__all__ = ["GRU", "LSTM", "RNN", "NoForwardCacheError", "RecurrentStack"]


class NoForwardCacheError(RuntimeError, ValueError):
    """Raised by ``backward`` when no training-mode forward precedes it."""


@dataclass
class _ForwardInputs:
    """What a training forward started from: enough to run it again, bit for bit."""

    x: np.ndarray  # the first layer's time-major input [T, B, I]
    lengths: np.ndarray | None
    h0: np.ndarray
    c0: np.ndarray | None
    dropout_masks: list[np.ndarray | None]  # per layer: the mask applied to its input, scaled

    def detached_from(self, caller_x: np.ndarray) -> _ForwardInputs:
        """These inputs with no array the caller can still change, for a later backward.

        The time-major x is the caller's memory only where its transpose needed no copy (one
        sample or one step); lengths and initial states are small, so they are always copied.
        """
        x = self.x.copy() if np.shares_memory(self.x, caller_x) else self.x
        c0 = None if self.c0 is None else self.c0.copy()
        lengths = None if self.lengths is None else self.lengths.copy()
        return _ForwardInputs(x, lengths, self.h0.copy(), c0, self.dropout_masks)


@dataclass
class _ForwardCache:
    """What one training forward keeps for its backward.

    BPTT writes each layer's gate gradients over its cache arrays (so it needs no buffers of its
    size) and pops the layers as it goes: once ``consumed``, another backward first rebuilds
    ``layer_inputs`` and ``direction_caches`` by running the forward again from ``inputs``.
    """

    inputs: _ForwardInputs
    layer_inputs: list[np.ndarray]  # per layer: its time-major input [T, B, in], after dropout
    direction_caches: list[list[tuple]]  # [layer][direction]: the extension's cache arrays

    @property
    def time(self) -> int:
        return self.inputs.x.shape[0]

    @property
    def batch(self) -> int:
        return self.inputs.x.shape[1]

    @property
    def consumed(self) -> bool:
        return not self.direction_caches


# The core hands sizes to a BLAS with 32-bit indices: time * batch * width must fit in one.
MAX_ELEMENTS = 2**31 - 1


# The constructor parameters every recurrent stack shares (numpydoc entries).
_STACK_PARAMETERS = """\
input_size, hidden_size : int
    Features per input step and hidden units per layer and direction.
num_layers : int, default 1
    Stacked layers; layer ``k > 0`` reads layer ``k - 1``'s output.
bidirectional : bool, default False
    Also run each layer in reverse and concatenate both directions' outputs.
dtype : numpy.float32 or numpy.float64, default float32
    Precision of the parameters and computations.
random_state : int, numpy.random.Generator or None
    Seeds the initial weights, ``U(-1/sqrt(hidden), 1/sqrt(hidden))`` as in torch, and the
    dropout masks.
dropout : float in [0, 1), default 0
    Keyword-only: the probability of zeroing each input feature of layers
    ``1 .. num_layers - 1`` in a training forward, as in torch (inverted dropout: kept values
    are scaled by ``1 / (1 - dropout)``); inference forwards never drop.
"""


def _document_parameters(cls):
    """Fill ``%(stack_parameters)s`` in ``cls``'s docstring with :data:`_STACK_PARAMETERS`,
    and ``%(rnn_parameters)s`` with them and ``nonlinearity`` in :class:`RNN`'s order."""
    rnn_parameters = _STACK_PARAMETERS.replace(
        "bidirectional :",
        'nonlinearity : {"tanh", "relu"}, default "tanh"\n    The activation ``act``.\n'
        "bidirectional :",
        1,
    )
    return documented(cls, stack_parameters=_STACK_PARAMETERS, rnn_parameters=rnn_parameters)


@_document_parameters
class RecurrentStack(StateDictMixin, SaveMixin):
    """Multi-layer, optionally bidirectional recurrent network over whole sequences.

    Use the subclasses :class:`RNN`, :class:`LSTM` and :class:`GRU`.

    Parameters
    ----------
    %(stack_parameters)s

    Attributes
    ----------
    params : dict of str to ndarray
        The live parameter arrays, keyed and shaped as the matching ``torch.nn`` module's
        ``state_dict`` (``weight_ih_l{k}[_reverse]`` ``(G*hidden, in)``, ``weight_hh_l{k}...``
        ``(G*hidden, hidden)``, ``bias_ih_l{k}...`` and ``bias_hh_l{k}...`` ``(G*hidden,)``).
        Optimizers update these arrays in place.
    grads : dict of str to ndarray or None
        Gradients of the last :meth:`backward`, with the keys of ``params``.
    """

    _gates: int
    _cache_width: int  # cache row width per step in units of hidden_size (the cell's kCacheWidth)
    _has_cell_state: bool = False
    # a frozen module's packed weights, per layer and direction (see freeze); None: not frozen.
    # rnnfast.save leaves them out (a reduced-precision module is packed again on loading).
    _packed: list | None = None
    _unsaved_attributes = frozenset({"_packed"})
    # the precision a frozen module's packs hold (see freeze); saved, so that a reduced-precision
    # module loads frozen again, in the same precision, and predicts what it did when saved
    _precision: str = "float"
    # what rnnfast.save writes and rnnfast.load restores (the cache is saved empty)
    _saved_attributes = frozenset(
        {"input_size", "hidden_size", "num_layers", "bidirectional", "dtype", "dropout"}
        | {"params", "grads", "_cache", "_last_forward_was_inference", "_dropout_rng"}
        | {"_precision"}
    )

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dtype: object = np.float32,
        random_state: int | np.random.Generator | None = None,
        *,
        dropout: float = 0.0,
    ) -> None:
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        if not isinstance(bidirectional, (bool, np.bool_)):
            raise TypeError(f"bidirectional must be a bool, got {bidirectional!r}")
        self.bidirectional = bool(bidirectional)
        self.dtype = check_dtype(dtype)
        self.dropout = check_probability(dropout, "dropout")
        rng = as_generator(random_state)
        self._dropout_rng = rng  # continues the init stream, so a seed fixes the masks too
        self.params = {
            name: torch_default_uniform(rng, shape, self.hidden_size, self.dtype)
            for name, shape in self._parameter_shapes().items()
        }
        self.grads: dict[str, np.ndarray] | None = None
        self._cache: _ForwardCache | None = None
        self._last_forward_was_inference = False

    # ----------------------------------------------------------------------------- structure
    @property
    def num_directions(self) -> int:
        """2 when bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    def random_generators(self) -> tuple[np.random.Generator, ...]:
        """%(random_generators)s"""
        return (self._dropout_rng,)

    def max_batch(self, time: int) -> int:
        """%(max_batch)s"""
        return MAX_ELEMENTS // (check_positive_int(time, "time") * self._row_width())

    def _row_width(self) -> int:
        """The widest per-(step, sample) row the core indexes: input, output or cache."""
        hidden = self.hidden_size
        return max(self.input_size, self.num_directions * hidden, self._cache_width * hidden)

    @property
    def _cell(self) -> str:
        """Name of the extension's cell kernels."""
        raise NotImplementedError

    def _parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        gh, h = self._gates * self.hidden_size, self.hidden_size
        shapes = {}
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else h * self.num_directions
            for direction in range(self.num_directions):
                kinds = ((gh, layer_in), (gh, h), (gh,), (gh,))  # in _KINDS order
                shapes.update(zip(_parameter_names(layer, direction), kinds, strict=True))
        return shapes

    def _check_loaded_state(self) -> None:
        """Called by :func:`rnnfast.load`: the architecture's fields and the parameters agree."""
        owner = type(self).__name__
        for name in ("input_size", "hidden_size", "num_layers"):
            check_positive_int(getattr(self, name), f"{owner}.{name}")
        check_bool(self.bidirectional, f"{owner}.bidirectional")
        if check_dtype(self.dtype) != self.dtype:
            raise TypeError(f"{owner}.dtype must be a numpy dtype, got {self.dtype!r}")
        check_probability(self.dropout, f"{owner}.dropout")
        check_generator(self._dropout_rng, f"{owner}._dropout_rng")
        # count before building the shapes: a file claiming 10**7 layers is refused at once
        if not isinstance(self.params, dict) or len(self.params) != len(_KINDS) * (
            self.num_layers * self.num_directions
        ):
            raise ValueError(f"{owner} parameters do not match the architecture")
        check_loaded_parameters(self.params, self._parameter_shapes(), self.dtype, owner)
        check_precision(self._precision, self.dtype, f"{owner}._precision")
        if self._precision != "float":  # served in reduced precision when saved: so again
            self._own_packed_weights(copy_weights=False)

    def _layer_weights(self, layer: int, direction: int) -> tuple[np.ndarray, ...]:
        params = self.params
        return tuple(params[name] for name in _parameter_names(layer, direction))

    # ------------------------------------------------------------------------------ weights
    def _forget_forward(self) -> None:
        self._cache = None

    # ------------------------------------------------------------------------------ forward
    def forward(
        self,
        x: np.ndarray,
        lengths: np.ndarray | None = None,
        hx: np.ndarray | tuple[np.ndarray, np.ndarray] | None = None,
        training: bool = True,
    ):
        """Run the network over whole sequences.

        Parameters
        ----------
        x : array-like of shape (batch, time, input_size)
            Input sequences, batch-first. Cast to the module's dtype.
        lengths : array-like of int of shape (batch,), optional
            Valid steps per sample, each in ``[1, time]`` (any order). Steps past a sample's
            length are ignored, its output there is zero, its final state is taken at its last
            valid step, and the reverse direction starts there (torch's packed sequences).
        hx : array-like of shape (num_layers * num_directions, batch, hidden_size), optional
            Initial hidden state; for :class:`LSTM` a tuple ``(h0, c0)`` of two such arrays.
            Zeros when omitted.
        training : bool, default True
            Keep what :meth:`backward` needs. With False nothing is cached (less memory) and
            the module's training state is not touched: a :meth:`backward` still follows the
            last training forward, and inference may run in other threads meanwhile.

        Returns
        -------
        output : ndarray of shape (batch, time, num_directions * hidden_size)
            Top layer's hidden state at each step, forward direction then reverse.
        h_n : ndarray of shape (num_layers * num_directions, batch, hidden_size)
            Final hidden state of every layer and direction, layer-major as in torch; for
            :class:`LSTM` a tuple ``(h_n, c_n)``.
        """
        training = bool(training)
        if training and self.frozen:
            raise ValueError(
                "this module is frozen (freeze()): it runs inference only, forward(x, "
                "training=False); train the module it was frozen from"
            )
        # An inference forward leaves the training state alone, so predictions may run while
        # (or between) a training forward and its backward, in other threads too.
        if training:
            self._cache = None
            self.grads = None
            self._last_forward_was_inference = False
        elif self._cache is None:
            self._last_forward_was_inference = True  # only words backward's error
        x = as_float_array(x, "x", self.dtype, (None, None, self.input_size))
        batch, time = x.shape[:2]
        if time < 1:
            raise ValueError("x must have at least one time step (axis 1), got 0")
        if batch * time * self._row_width() > MAX_ELEMENTS:  # before anything of that size
            raise ValueError(
                f"x of {batch} sequences of {time} steps is too large for one call: time * "
                f"batch * {self._row_width()} must be at most 2**31 - 1 (the core's 32-bit "
                f"indexing); pass at most {self.max_batch(time)} sequences of this length at a time"
            )
        lengths = check_lengths(lengths, batch, time)
        h0, c0 = self._initial_state(hx, batch)

        masks = self._draw_dropout_masks(batch, time) if training else [None] * self.num_layers
        inputs = _ForwardInputs(np.ascontiguousarray(x.transpose(1, 0, 2)), lengths, h0, c0, masks)
        if training:  # backward reads them later, and may run this forward again from them
            inputs = inputs.detached_from(x)
        output, h_n, c_n, layer_inputs, direction_caches = self._run_layers(inputs, training)
        if training:
            self._cache = _ForwardCache(inputs, layer_inputs, direction_caches)
        return output, self._pack_state(h_n, c_n)

    def _draw_dropout_masks(self, batch: int, time: int) -> list[np.ndarray | None]:
        """Per layer, the scaled mask of its input (None for the first layer, or no dropout)."""
        shape = (time, batch, self.num_directions * self.hidden_size)
        return [
            dropout_mask(self._dropout_rng, shape, self.dropout, self.dtype)
            if layer > 0 and self.dropout > 0
            else None
            for layer in range(self.num_layers)
        ]

    def _run_layers(self, inputs: _ForwardInputs, training: bool):
        """The forward pass proper: ``(output, h_n, c_n, layer_inputs, direction_caches)``."""
        time, batch = inputs.x.shape[:2]
        h0, c0 = inputs.h0, inputs.c0
        h_n = np.empty_like(h0)
        c_n = np.empty_like(c0) if c0 is not None else None
        layer_input = inputs.x
        layer_inputs, direction_caches = [], []
        for layer, mask in enumerate(inputs.dropout_masks):
            if mask is not None:
                layer_input = layer_input * mask
            # The top layer writes the batch-first output itself (no transposed copy); lower
            # layers write the time-major input of the next one.
            top = layer == self.num_layers - 1
            width = self.num_directions * self.hidden_size
            y = cpu.empty((batch, time, width) if top else (time, batch, width), self.dtype)
            caches = []
            for direction in range(self.num_directions):
                s = layer * self.num_directions + direction
                h_last, c_last, cache = cpu.layer_forward(
                    self._cell,
                    layer_input,
                    *self._layer_weights(layer, direction),
                    h0[s],
                    None if c0 is None else c0[s],
                    inputs.lengths,
                    direction == 1,  # reverse
                    training,
                    y,
                    direction * self.hidden_size,  # the first column of y written
                    top,  # y is batch-first
                    packed=None if self._packed is None else self._packed[s],
                )
                h_n[s] = h_last
                if c_n is not None:
                    c_n[s] = c_last
                caches.append(cache)
            layer_inputs.append(layer_input)
            direction_caches.append(caches)
            layer_input = y
        return layer_input, h_n, c_n, layer_inputs, direction_caches

    __call__ = forward

    # ------------------------------------------------------------------------------ freezing
    def freeze(self, precision: str = "float"):
        """An inference-only copy of this module whose weights are packed once.

        Every :meth:`forward` packs the weights into the layout its kernels read (for
        ``W_hh``, cut by hidden units among the threads), because an ordinary module cannot
        know whether they changed since the last call. A frozen copy owns a snapshot of the
        weights, packed now for the current thread count (:func:`rnnfast.set_num_threads`;
        another count still runs, with this cut), so repeated inference calls, small batches
        above all, skip that work: the analogue of an onnxruntime session.

        With a reduced ``precision`` the packs hold the weights quantized, which is what
        serving at small batches is bound by (every step reads all of ``W_hh``): fewer
        bytes to read, and less memory. The gate math, the state and the sums stay float32.

        Parameters
        ----------
        precision : {"float", "bfloat16", "int8"}, default "float"
            How the packs store the weights (reduced ones: float32 modules only).

            - ``"float"``: the module's own dtype; outputs equal this module's bit for bit.
            - ``"bfloat16"``: weights rounded to bfloat16 (8 significant bits), widened back
              to float32 as the kernel reads them. Output error about 2e-3 relative.
            - ``"int8"``: torch's dynamic quantization: each weight row (one output unit)
              quantized to int8 with its own scale, and each row of the layer's input and
              hidden state quantized to 7-bit integers when it is multiplied (scale and zero
              point per sample and step, so a sample's result does not depend on its batch).
              Exact integer sums, scaled back to float32. Output error about 1e-2 relative.

        Returns
        -------
        RecurrentStack
            A module of the same class: ``forward(x, lengths, hx, training=False)`` returns
            exactly what this module's would (at ``precision="float"``), bit for bit;
            ``stream()`` works as here, in the same precision. Its weight arrays are
            read-only (in-place writes raise ValueError), a training :meth:`forward` or
            :meth:`load_state_dict` raises ValueError, and later changes to this module do
            not reach it: freeze again after training. It pickles (the packs are rebuilt on
            loading). :func:`rnnfast.save` writes a ``"float"`` one as an ordinary module,
            and a reduced-precision one with its float32 weights and its precision: it loads
            frozen in that precision again.

        Raises
        ------
        ValueError
            For an unknown ``precision``, or a reduced one on a float64 module.
        """
        check_precision(precision, self.dtype, "precision")
        frozen = copy.copy(self)
        frozen._precision = precision
        frozen.grads = None
        frozen._cache = None
        frozen._last_forward_was_inference = False
        frozen._dropout_rng = copy.deepcopy(self._dropout_rng)
        frozen._own_packed_weights()
        return frozen

    @property
    def frozen(self) -> bool:
        """Whether this module is a :meth:`freeze` copy (inference only, weights packed)."""
        return self._packed is not None

    @property
    def precision(self) -> str:
        """How the weights are applied: ``"float"``, ``"bfloat16"`` or ``"int8"``.

        ``"float"`` is the module's own dtype; the reduced ones are :meth:`freeze` copies'.
        """
        return self._precision

    def _own_packed_weights(self, copy_weights: bool = True) -> None:
        """Make the weights read-only (copies, or in place when this module owns them, as a
        loaded one does) and pack them: what makes a module frozen."""
        if copy_weights:
            self.params = read_only_params(self.params)
        else:
            for value in self.params.values():
                value.flags.writeable = False
        self._packed = [
            cpu.pack_layer(
                *self._layer_weights(layer, direction)[:2],
                gates=self._gates,
                precision=self._precision,
            )
            for layer in range(self.num_layers)
            for direction in range(self.num_directions)
        ]

    def load_state_dict(self, state_dict: dict) -> None:
        if self.frozen:
            raise ValueError(
                "a frozen module's weights cannot change: load the state into the module it "
                "was frozen from and freeze() that again"
            )
        super().load_state_dict(state_dict)

    load_state_dict.__doc__ = StateDictMixin.load_state_dict.__doc__

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_packed"] = self.frozen  # the packs are rebuilt when loaded, not pickled
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._packed = None
        if state.get("_packed"):
            self._own_packed_weights()

    def stream(self, batch_size: int = 1, hx=None):
        """Open a :class:`~rnnfast.nn.RecurrentStream`: inference one time step per call.

        Parameters
        ----------
        batch_size : int, default 1
            Independent sequences stepped together.
        hx : array-like, optional
            Initial state, as ``forward``'s ``hx``; zeros when omitted.

        Returns
        -------
        RecurrentStream
            Its ``step(x_t)`` returns the output at that step and keeps the state for the next
            call. It copies the weights now; open a new stream after changing them.
            Bidirectional networks cannot stream (ValueError).
        """
        return RecurrentStream(self, batch_size, hx)

    # ----------------------------------------------------------------------------- backward
    def backward(self, grad_output: np.ndarray, grad_state=None):
        """Backpropagate through time through the last training-mode :meth:`forward`.

        Parameters
        ----------
        grad_output : array-like of shape (batch, time, num_directions * hidden_size)
            Gradient of the loss w.r.t. ``output``. Entries past a sample's length are ignored.
        grad_state : array-like, optional
            Gradient w.r.t. ``h_n``, shaped like it; for :class:`LSTM` a tuple
            ``(grad_h_n, grad_c_n)`` whose entries may be None. Zero when omitted.

        Returns
        -------
        grad_input : ndarray of shape (batch, time, input_size)
            Gradient w.r.t. ``x`` (zero past each sample's length).
        grad_hx : ndarray of shape (num_layers * num_directions, batch, hidden_size)
            Gradient w.r.t. the initial state; a tuple ``(grad_h0, grad_c0)`` for LSTM.

        Notes
        -----
        The parameter gradients are stored in :attr:`grads` (not accumulated across calls).
        BPTT writes its gate gradients over the activations the forward saved, so it needs
        almost no memory of its own; calling ``backward`` again after the same forward first
        runs that forward again (same inputs, current weights), which costs a forward's time.
        """
        cache = self._require_cache()
        batch, time = cache.batch, cache.time
        width = self.num_directions * self.hidden_size
        grad_output = as_float_array(grad_output, "grad_output", self.dtype, (batch, time, width))
        dh_n, dc_n = self._final_state_grads(grad_state, batch)
        if cache.consumed:  # an earlier backward overwrote the activations: rebuild them
            _, _, _, cache.layer_inputs, cache.direction_caches = self._run_layers(
                cache.inputs, training=True
            )

        grads = {name: cpu.zeros(value.shape, value.dtype) for name, value in self.params.items()}
        dh0 = np.zeros((self.num_layers * self.num_directions, batch, self.hidden_size), self.dtype)
        dc0 = np.zeros_like(dh0) if self._has_cell_state else None
        dy = grad_output  # batch-first for the top layer, then each layer's time-major dx
        for layer in reversed(range(self.num_layers)):
            # Popped, so each layer's activations are freed as soon as its BPTT is done.
            dx = self._layer_backward(
                layer,
                cache.layer_inputs.pop(),
                cache.direction_caches.pop(),
                cache.inputs.lengths,
                dy,
                dh_n,
                dc_n,
                grads,
                dh0,
                dc0,
            )
            mask = cache.inputs.dropout_masks[layer]
            dy = dx if mask is None else dx * mask
        self.grads = grads
        # Always a copy: dy may be a view of a freed layer's state slots (see _layer_backward).
        grad_input = cpu.empty((batch, time, dy.shape[2]), self.dtype)
        grad_input[...] = dy.transpose(1, 0, 2)
        return grad_input, self._pack_state(dh0, dc0)

    def _layer_backward(
        self, layer, layer_input, direction_caches, lengths, dy, dh_n, dc_n, grads, dh0, dc0
    ) -> np.ndarray:
        """BPTT of one layer, both directions; fills ``grads``, ``dh0``, ``dc0``, returns dx."""
        dx = None
        for direction, (gates, h_slots, c_slots) in enumerate(direction_caches):
            first = dx is None
            if first:
                dx = _room_for_dx(h_slots, layer_input.shape)
            s = layer * self.num_directions + direction
            dw_ih, dw_hh, db_ih, db_hh = (grads[n] for n in _parameter_names(layer, direction))
            dh_first, dc_first = cpu.layer_backward(
                self._cell,
                layer_input,
                *self._layer_weights(layer, direction),
                lengths,
                reverse=direction == 1,
                gates=gates,
                h_slots=h_slots,
                c_slots=c_slots,
                dy=dy,
                dy_col=direction * self.hidden_size,
                dy_batch_first=layer == self.num_layers - 1,
                dh_n=None if dh_n is None else dh_n[s],
                dc_n=None if dc_n is None else dc_n[s],
                dx=dx,
                dx_accumulate=not first,
                dw_ih=dw_ih,
                dw_hh=dw_hh,
                db_ih=db_ih,
                db_hh=db_hh,
            )
            dh0[s] = dh_first
            if dc0 is not None:
                dc0[s] = dc_first
        return dx

    # ------------------------------------------------------------------------------ helpers
    def _state_shape(self, batch: int) -> tuple[int, int, int]:
        return (self.num_layers * self.num_directions, batch, self.hidden_size)

    def _initial_state(self, hx, batch: int) -> tuple[np.ndarray, np.ndarray | None]:
        shape = self._state_shape(batch)
        if hx is None:
            zeros = np.zeros(shape, self.dtype)
            return zeros, (zeros.copy() if self._has_cell_state else None)
        if self._has_cell_state:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("hx must be a tuple (h0, c0) for LSTM")
            return (
                as_float_array(hx[0], "hx[0] (h0)", self.dtype, shape),
                as_float_array(hx[1], "hx[1] (c0)", self.dtype, shape),
            )
        if isinstance(hx, (tuple, list)):
            raise TypeError(f"hx must be one array for {type(self).__name__}, got a sequence")
        return as_float_array(hx, "hx", self.dtype, shape), None

    def _final_state_grads(self, grad_state, batch: int):
        shape = self._state_shape(batch)
        if grad_state is None:
            return None, None
        if self._has_cell_state:
            if not isinstance(grad_state, (tuple, list)) or len(grad_state) != 2:
                raise TypeError("grad_state must be a tuple (grad_h_n, grad_c_n) for LSTM")
            dh, dc = grad_state
            return (
                None if dh is None else as_float_array(dh, "grad_state[0]", self.dtype, shape),
                None if dc is None else as_float_array(dc, "grad_state[1]", self.dtype, shape),
            )
        if isinstance(grad_state, (tuple, list)):
            raise TypeError(f"grad_state must be one array for {type(self).__name__}")
        return as_float_array(grad_state, "grad_state", self.dtype, shape), None

    def _pack_state(self, h: np.ndarray, c: np.ndarray | None):
        return (h, c) if self._has_cell_state else h

    def _require_cache(self) -> _ForwardCache:
        if self._cache is not None:
            return self._cache
        if self._last_forward_was_inference:
            raise NoForwardCacheError(
                "backward() needs a forward(..., training=True); the last forward ran with "
                "training=False and kept no cache"
            )
        raise NoForwardCacheError("backward() called before forward(..., training=True)")

    def _extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        args = [f"{self.input_size}", f"{self.hidden_size}", f"num_layers={self.num_layers}"]
        args += [self._extra_repr()] if self._extra_repr() else []
        args += [f"bidirectional={self.bidirectional}", f"dtype={self.dtype.name}"]
        args += [f"dropout={self.dropout}"] if self.dropout else []
        return f"{type(self).__name__}({', '.join(args)})"


# what a module's forward leaves behind: never saved, cleared on load
_FORWARD_STATE = {"grads": None, "_cache": None, "_last_forward_was_inference": False}


@persistable(reset=_FORWARD_STATE)
@_document_parameters
class RNN(RecurrentStack):
    """Elman RNN, ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``; torch.nn.RNN-compatible.

    Parameters
    ----------
    %(rnn_parameters)s

    Examples
    --------
    >>> import numpy as np
    >>> from rnnfast.nn import RNN
    >>> rnn = RNN(3, 5, random_state=0)
    >>> out, h_n = rnn.forward(np.ones((2, 4, 3)))
    >>> out.shape, h_n.shape
    ((2, 4, 5), (1, 2, 5))
    """

    _gates = 1
    _cache_width = 1
    _saved_attributes = RecurrentStack._saved_attributes | {"nonlinearity"}

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bidirectional: bool = False,
        dtype: object = np.float32,
        random_state: int | np.random.Generator | None = None,
        *,
        dropout: float = 0.0,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bidirectional=bidirectional,
            dtype=dtype,
            random_state=random_state,
            dropout=dropout,
        )

    @property
    def _cell(self) -> str:
        return f"rnn_{self.nonlinearity}"

    def _check_loaded_state(self) -> None:
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNN.nonlinearity must be 'tanh' or 'relu', got {self.nonlinearity!r}"
            )
        super()._check_loaded_state()

    def _extra_repr(self) -> str:
        return f"nonlinearity={self.nonlinearity!r}"


@persistable(reset=_FORWARD_STATE)
@_document_parameters
class LSTM(RecurrentStack):
    """Long short-term memory, torch.nn.LSTM-compatible (gate order i, f, g, o).

    The state is a tuple ``(h, c)`` in ``hx``, the returned final state and the gradients.

    Parameters
    ----------
    %(stack_parameters)s
    """

    _gates = 4
    _cache_width = 4
    _has_cell_state = True

    @property
    def _cell(self) -> str:
        return "lstm"


@persistable(reset=_FORWARD_STATE)
@_document_parameters
class GRU(RecurrentStack):
    """Gated recurrent unit, torch.nn.GRU-compatible (gates r, z, n; reset after W_hn h).

    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    Parameters
    ----------
    %(stack_parameters)s
    """

    _gates = 3
    _cache_width = 4  # the n gate's input and hidden parts are kept apart

    @property
    def _cell(self) -> str:
        return "gru"


_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _room_for_dx(h_slots: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Memory for a layer's ``dx`` ``[T, B, I]``: its first direction's state slots where they fit.

    BPTT reads the slots for the last time before it writes ``dx`` (``csrc/core/layer.h``),
    so taking their memory saves a ``[T, B, I]`` buffer at backward's peak. The first
    direction overwrites ``dx`` and the second adds to it, so it needs no zeroing.
    """
    size = shape[0] * shape[1] * shape[2]
    if size <= h_slots.size:
        return h_slots.reshape(-1)[:size].reshape(shape)
    return np.empty(shape, h_slots.dtype)


@functools.lru_cache(maxsize=256)
def _parameter_names(layer: int, direction: int) -> tuple[str, ...]:
    """The names of one layer and direction's parameters, in ``_KINDS`` order, as torch names
    them (built once: formatting them at every call was 2 us of a 13 us one-step call)."""
    suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
    return tuple(f"{kind}{suffix}" for kind in _KINDS)
