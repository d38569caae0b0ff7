"""The hyperparameters every rnnfast estimator shares: defaults, documentation, validation.

sklearn reads an estimator's hyperparameters from its ``__init__`` signature, so each one
must list them explicitly. Rather than repeat 25 keyword arguments in six classes,
:func:`shared_init` builds an ``__init__`` that stores its arguments unchanged (sklearn's
rule: no validation or conversion in ``__init__``) and carries the explicit signature.
"""

from __future__ import annotations

import inspect
import os

import numpy as np

from rnnfast._docstrings import fill_docstrings
from rnnfast._validation import check_number
from rnnfast.nn import CELL_TYPES, POOLING_KINDS
from rnnfast.nn.init import INIT_SCHEMES
from rnnfast.optim.optimizers import OPTIMIZERS
from rnnfast.optim.schedules import SCHEDULES

SHARED_DEFAULTS = {
    "cell": "lstm",
    "hidden_size": 32,
    "num_layers": 1,
    "bidirectional": False,
    "dropout": 0.0,
    "optimizer": "adam",
    "learning_rate": 0.01,
    "momentum": 0.9,
    "nesterov": False,
    "lr_schedule": "constant",
    "lr_schedule_params": None,
    "warmup_epochs": 0,
    "weight_decay": 0.0,
    "clip_norm": 1.0,
    "clip_value": None,
    "init": "orthogonal",
    "forget_bias": 1.0,
    "batch_size": 32,
    "max_epochs": 50,
    "early_stopping": False,
    "validation_fraction": 0.1,
    "patience": 10,
    "random_state": None,
    "verbose": 0,
    "warm_start": False,
    "bptt_steps": None,
    "checkpoint_path": None,
    "checkpoint_every": 1,
    "embedding_dim": None,
    "callbacks": None,
}

SHARED_DOC = """\
    cell : {"lstm", "gru", "rnn", "rnn_relu"}, default %(cell)s
        Recurrent cell (``"rnn"`` is the tanh Elman RNN).
    hidden_size : int, default %(hidden_size)s
        Hidden units per layer and direction.
    num_layers : int, default 1
        Stacked recurrent layers.
    bidirectional : bool, default %(bidirectional)s
        Also run each layer in reverse and concatenate both directions.
    dropout : float in [0, 1), default 0
        Dropout rate between recurrent layers and before the output layer (training only).
    optimizer : {"adam", "adamw", "sgd", "rmsprop", "adagrad"}, default "adam"
        See :mod:`rnnfast.optim`.
    learning_rate : float, default %(learning_rate)s
        Initial step size.
    momentum : float in [0, 1), default 0.9
        Momentum of ``optimizer="sgd"``.
    nesterov : bool, default False
        Nesterov momentum for ``optimizer="sgd"``.
    lr_schedule : {"constant", "step", "exponential", "cosine", "plateau"}, default "constant"
        Learning-rate schedule, stepped once per epoch (see :mod:`rnnfast.optim.schedules`).
        ``"plateau"`` monitors the validation score with ``early_stopping``, otherwise the
        training loss.
    lr_schedule_params : dict or None, default None
        Keyword arguments of the schedule, e.g. ``{"step_size": 10, "gamma": 0.5}``.
    warmup_epochs : int, default 0
        Epochs of linear learning-rate warm-up before the schedule starts.
    weight_decay : float, default 0
        L2 penalty (decoupled for ``optimizer="adamw"``).
    clip_norm : float or None, default 1.0
        Rescale gradients whose global norm exceeds this (None: no norm clipping).
    clip_value : float or None, default None
        Clamp each gradient entry to ``[-clip_value, clip_value]`` (applied before ``clip_norm``).
    init : {"orthogonal", "xavier", "torch"}, default "orthogonal"
        Recurrent weight initialisation (see :func:`rnnfast.nn.init.initialize_recurrent`).
    forget_bias : float or None, default 1.0
        Initial LSTM forget-gate bias (ignored by GRU and RNN cells).
    batch_size : int, default %(batch_size)s
        Sequences per mini-batch; batches group sequences of similar length.
    max_epochs : int, default %(max_epochs)s
        Passes over the training data.
    early_stopping : bool, default %(early_stopping)s
        Hold out ``validation_fraction`` of the training data, stop after ``patience`` epochs
        without a better validation score and restore the best epoch's weights.
    validation_fraction : float in (0, 1), default 0.1
        Share of the training data held out with ``early_stopping``.
    patience : int, default 10
        Epochs without improvement before early stopping.
    random_state : int, RandomState instance or None, default None
        Seeds initialisation, shuffling, dropout and the validation split; an int makes
        ``fit`` exactly reproducible on CPU.
    verbose : int, default 0
        1 prints a line per epoch (loss, validation score, learning rate); 2 also a progress
        bar within each epoch (epoch k/N, the running mean loss, batches per second, elapsed
        and remaining time), through ``tqdm`` when it is installed (``rnnfast[progress]``;
        a widget in Jupyter), else a plain one.
    warm_start : bool, default False
        ``fit`` continues from the previous fit's weights and optimizer state.
    bptt_steps : int or None, default None
        Truncated backpropagation through time: each mini-batch is trained in windows of this
        many time steps, one optimizer step per window, with the recurrent state carried from
        one window to the next but not differentiated through. Training memory then grows
        with ``bptt_steps`` instead of the sequence length. Per-sequence tasks learn only
        from each sequence's last window. Needs ``bidirectional=False``. None: full BPTT.
    checkpoint_path : str, path-like or None, default None
        Write a checkpoint (the whole estimator with its optimizer, schedule and random state,
        see :func:`rnnfast.save`) to this file every ``checkpoint_every`` epochs; the file is
        replaced atomically. ``rnnfast.load(path).resume(X, y)`` finishes the interrupted fit
        exactly as the uninterrupted run would have.
    checkpoint_every : int, default 1
        Epochs between checkpoints.
    embedding_dim : int or None, default None
        Token input: ``X`` is a list of 1-D arrays of integer ids (or a 2-D integer array, 0
        = padding after each sequence), e.g. from :class:`rnnfast.TextSequencer`, and an
        embedding of this size sits under the recurrent stack. Ids never seen in ``fit`` are
        read as the out-of-vocabulary id 1. None: numeric input.
    callbacks : list of rnnfast.callbacks.Callback or None, default None
        Called at fit begin, after every epoch (with the estimator and a read-only
        :class:`rnnfast.callbacks.History`; any may stop the training) and at fit end:
        :class:`~rnnfast.callbacks.EarlyStopping`, :class:`~rnnfast.callbacks.CSVLogger`,
        :class:`~rnnfast.callbacks.Checkpoint` or your own. Not saved in model files.
"""


POOLING_DOC = """\
pooling : {"last", "mean", "max", "attention"}, default %(pooling)s
    What the output layer reads of each sequence: the top layer's final state (both
    directions when bidirectional), or its outputs pooled over the valid steps: their
    mean, their maximum per feature, or an attention-weighted mean with a learned
    query (see :class:`rnnfast.nn.SequencePooling`). Long series and text gain from
    not reading only the final state."""


STANDARDIZE_DOC = """\
standardize : bool, "per_sequence" or "per_sequence_level", default %(standardize)s
    How numeric inputs are scaled before the network reads them. True: per feature, to
    zero mean and unit variance over the valid steps of the training sequences
    (statistics from ``fit``, applied again by ``predict`` and kept in exported models).
    ``"per_sequence"``: each sequence per feature by its own mean and standard deviation
    over its valid steps (z-normalisation, as the UCR archive stores its series), which
    discards each series' level and unit: right when the shape tells the classes apart,
    wrong when the level does. ``"per_sequence_level"``: z-normalised as with
    ``"per_sequence"``, plus two channels per feature that give back what that removed,
    the sequence's mean and log standard deviation in the training set's units (see
    :func:`rnnfast.data.sequences.standardize_with_level`): for series recorded at
    different offsets or gains. False: raw inputs. Recurrent cells saturate on large
    inputs, so series in raw units (volts, counts, watts) train badly without scaling.
    Token input (``embedding_dim``) is never scaled."""

# The string values of ``standardize`` (True and False are the others).
STANDARDIZE_MODES = ("per_sequence", "per_sequence_level")

# Longest series, in network steps, that "auto" frame stacking lets through unstacked;
# chosen by cross-validation on the training splits of the UCR/UEA panel
# (bench/select_defaults.py), like the other defaults of RNNClassifier.
AUTO_FRAME_STEPS = 200

FRAME_STRIDE_DOC = f"""\
frame_stride : int or "auto", default "auto"
    Stack this many consecutive steps into one network step of ``frame_stride *
    n_features`` inputs (non-overlapping frames, the last completed with zeros), so a
    series of ``time`` steps runs ``ceil(time / frame_stride)`` recurrent steps: long
    series train faster and the network sees further back. ``"auto"``: 1 when the longest
    training sequence has at most {AUTO_FRAME_STEPS} steps, else ``ceil(longest /
    {AUTO_FRAME_STEPS})``; the value used is ``frame_stride_``. Token input never stacks.
frame_size : int or None, default None
    Input steps in each frame. None: as many as the stride (frames do not overlap). A larger
    size makes consecutive frames overlap by ``frame_size - frame_stride_`` steps: network
    step ``k`` reads input steps ``[k * frame_stride_, k * frame_stride_ + frame_size)``
    (zeros past the sequence's end), ``frame_size * n_features`` inputs; there are still
    ``ceil(time / frame_stride_)`` of them. Must be at least ``frame_stride_``; the value
    used is ``frame_size_``."""


def resolve_frame_size(frame_size, stride: int, tokens: bool) -> int:
    """The ``frame_size_`` a fit with the fitted ``stride`` uses (see :data:`FRAME_STRIDE_DOC`)."""
    if frame_size is None:
        return stride
    if tokens:
        raise ValueError(
            f"frame_size={frame_size} stacks numeric steps; token input (embedding_dim) needs "
            "frame_size=None"
        )
    if frame_size < stride:
        raise ValueError(
            f"frame_size must be at least frame_stride_ ({stride}), or frames would skip input "
            f"steps; got {frame_size}"
        )
    return int(frame_size)


def resolve_frame_stride(frame_stride, lengths: np.ndarray, tokens: bool) -> int:
    """The ``frame_stride_`` that a fit on sequences of ``lengths`` uses (see
    :data:`FRAME_STRIDE_DOC`)."""
    if frame_stride == "auto":
        return 1 if tokens else max(1, -(-int(lengths.max()) // AUTO_FRAME_STEPS))
    if tokens and frame_stride != 1:
        raise ValueError(
            f"frame_stride={frame_stride} stacks numeric steps; token input (embedding_dim) "
            "needs frame_stride=1 or 'auto'"
        )
    return int(frame_stride)


# Parameter entries the estimators' methods share: ``%(X)s`` and so on in a method docstring.
METHOD_DOCS = {
    "X": """\
X : array of shape (n, time, n_features) or (n, time), or list of (time_i, n_features)
    Sequences; 2-D means univariate; a list may hold sequences of different lengths.""",
    "sample_weight": """\
sample_weight : array-like of shape (n,), optional
    Weight of each sequence's loss; None weighs all equally.""",
    "classes": """\
classes : array-like, optional
    Every label that will ever be seen; required on the first call.""",
    "y_ignored": """\
y : None
    Ignored; present for the scikit-learn API.""",
}


def shared_init(**own_defaults):
    """Class decorator: give the estimator an ``__init__`` over its own and the shared params.

    The generated ``__init__`` takes keyword arguments only and stores each as an attribute
    of the same name; its ``__signature__`` lists them, which is what ``get_params``,
    ``clone`` and ``help()`` read. ``%(shared_parameters)s`` in the class docstring becomes
    :data:`SHARED_DOC`, and ``%(X)s`` and the other :data:`METHOD_DOCS` placeholders in its
    methods' docstrings their shared entries.
    """
    # the class's own parameters first, then the shared ones, whose defaults it may change
    defaults = {k: v for k, v in own_defaults.items() if k not in SHARED_DEFAULTS}
    defaults.update({k: own_defaults.get(k, v) for k, v in SHARED_DEFAULTS.items()})

    def decorate(cls):
        def __init__(self, **params):
            unknown = sorted(set(params) - set(defaults))
            if unknown:
                raise TypeError(
                    f"{cls.__name__}.__init__() got unexpected keyword argument(s) {unknown}"
                )
            for name, default in defaults.items():
                setattr(self, name, params.get(name, default))

        self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        __init__.__signature__ = inspect.Signature(
            [self_param]
            + [
                inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
                for name, default in defaults.items()
            ]
        )
        __init__.__qualname__ = f"{cls.__name__}.__init__"
        cls.__init__ = __init__
        # each class's own defaults, as they read in Python
        shown = {name: f'"{v}"' if isinstance(v, str) else v for name, v in defaults.items()}
        shared = SHARED_DOC % shown
        return fill_docstrings(
            cls,
            {
                "shared_parameters": shared,
                "pooling": POOLING_DOC % shown if "pooling" in shown else POOLING_DOC,
                "standardize": STANDARDIZE_DOC % shown if "standardize" in shown else "",
                "frame_stride": FRAME_STRIDE_DOC,
                **METHOD_DOCS,
            },
        )

    return decorate


def check_shared_params(est) -> None:
    """Validate the shared hyperparameters; ValueError/TypeError naming the parameter."""
    _choice(est, "cell", CELL_TYPES)
    _choice(est, "optimizer", tuple(OPTIMIZERS))
    _choice(est, "lr_schedule", tuple(SCHEDULES))
    _choice(est, "init", INIT_SCHEMES)
    for name in (
        "hidden_size",
        "num_layers",
        "batch_size",
        "max_epochs",
        "patience",
        "checkpoint_every",
    ):
        check_number(getattr(est, name), name, 1, integer=True)
    for name in ("warmup_epochs", "verbose"):
        check_number(getattr(est, name), name, 0, integer=True)
    for name in ("bidirectional", "nesterov", "early_stopping", "warm_start"):
        if not isinstance(getattr(est, name), (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {getattr(est, name)!r}")
    check_number(est.dropout, "dropout", 0, 1)
    check_number(est.momentum, "momentum", 0, 1)
    check_number(est.validation_fraction, "validation_fraction", 0, 1, include_low=False)
    check_number(est.learning_rate, "learning_rate", 0, include_low=False)
    check_number(est.weight_decay, "weight_decay", 0)
    for name in ("clip_norm", "clip_value"):
        if getattr(est, name) is not None:
            check_number(getattr(est, name), name, 0, include_low=False)
    if est.forget_bias is not None:
        check_number(est.forget_bias, "forget_bias", include_low=False)
    if est.nesterov and est.optimizer == "sgd" and est.momentum == 0:
        raise ValueError("nesterov=True needs momentum > 0")
    if est.bptt_steps is not None:
        check_number(est.bptt_steps, "bptt_steps", 1, integer=True)
        if est.bidirectional:
            raise ValueError(
                "bptt_steps needs bidirectional=False: the reverse direction reads the whole "
                "sequence before its first output"
            )
    if est.checkpoint_path is not None and not isinstance(est.checkpoint_path, (str, os.PathLike)):
        raise TypeError(
            f"checkpoint_path must be a str, a path-like or None, got {est.checkpoint_path!r}"
        )
    if est.callbacks is not None:
        if not isinstance(est.callbacks, (list, tuple)):
            raise TypeError(
                f"callbacks must be a list of callbacks or None, got {type(est.callbacks).__name__}"
            )
        for i, callback in enumerate(est.callbacks):
            if not all(
                callable(getattr(callback, hook, None))
                for hook in ("on_fit_begin", "on_epoch_end", "on_fit_end")
            ):
                raise TypeError(
                    f"callbacks[{i}] ({type(callback).__name__}) must have on_fit_begin, "
                    "on_epoch_end and on_fit_end methods (subclass rnnfast.callbacks.Callback)"
                )
    standardize = getattr(est, "standardize", True)
    expected = "True, False, " + " or ".join(repr(mode) for mode in STANDARDIZE_MODES)
    if isinstance(standardize, str):
        if standardize not in STANDARDIZE_MODES:
            raise ValueError(f"standardize must be {expected}, got {standardize!r}")
    elif not isinstance(standardize, (bool, np.bool_)):
        raise TypeError(f"standardize must be {expected}, got {standardize!r}")
    if est._stacks_frames and est.frame_stride != "auto":
        if isinstance(est.frame_stride, str):
            raise ValueError(
                f"frame_stride must be 'auto' or an int >= 1, got {est.frame_stride!r}"
            )
        check_number(est.frame_stride, "frame_stride", 1, integer=True)
    if est._stacks_frames and est.frame_size is not None:
        check_number(est.frame_size, "frame_size", 1, integer=True)
    pooling = getattr(est, "pooling", "last")  # a parameter of the per-sequence tasks
    if not isinstance(pooling, str) or pooling not in POOLING_KINDS:
        raise ValueError(f"pooling must be one of {POOLING_KINDS}, got {pooling!r}")
    if est.embedding_dim is not None:
        check_number(est.embedding_dim, "embedding_dim", 1, integer=True)
        if not est._accepts_tokens:
            raise ValueError(
                f"embedding_dim is not supported by {type(est).__name__}: its inputs are "
                "numeric values it also predicts or scores, not token ids"
            )
    if est.lr_schedule_params is not None and not isinstance(est.lr_schedule_params, dict):
        raise TypeError(
            f"lr_schedule_params must be a dict or None, got {est.lr_schedule_params!r}"
        )


def _choice(est, name: str, options: tuple) -> None:
    value = getattr(est, name)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
