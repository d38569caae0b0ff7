"""What every rnnfast estimator shares: input checks, building the network, the fit/partial_fit
driver, and batched inference. Subclasses supply the task: how targets are encoded, the
loss, the validation score, and how outputs become predictions."""

from __future__ import annotations

import copy
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from rnnfast._saving import SaveMixin
from rnnfast._validation import check_positive_int
from rnnfast.data.batching import batch_lengths, inference_batches, per_step_mask
from rnnfast.data.sequences import (
    Sequences,
    check_sequences,
    check_token_sequences,
    stack_frames,
    standardize_per_sequence,
    standardize_with_level,
)
from rnnfast.data.text import OOV_ID
from rnnfast.estimators._params import (
    check_shared_params,
    resolve_frame_size,
    resolve_frame_stride,
)
from rnnfast.estimators._training import (
    FitProgress,
    TrainingData,
    TrainingState,
    run_epochs,
    training_digest,
)
from rnnfast.estimators._truncated_bptt import stream_outputs
from rnnfast.nn import SequenceAutoencoder, SequenceNetwork
from rnnfast.optim import make_optimizer, make_schedule
from rnnfast.persistence import save

_INFERENCE_BATCH = 256
# Longer batches are run this many steps at a time (unidirectional networks), so inference
# memory stays bounded on very long sequences.
_STREAM_WINDOW = 4096


class RNNEstimatorBase(SaveMixin, BaseEstimator):
    """Base class of the estimators; not for direct use.

    Subclass contract (besides the sklearn mixins):

    - ``_per_step``: one output per time step (True) or per sequence (False).
    - ``_prepare_targets(seqs, y, sample_weight, fitting)`` -> ``(targets, weights)`` aligned
      with ``seqs``, and sets the fitted target attributes (``classes_`` etc.) when fitting.
    - ``_output_size()``: width of the network's output.
    - ``_loss(outputs, targets, weights, lengths)`` -> ``(loss, grad_outputs)``.
    - ``_validation_score(data)``: score of ``network_`` on held-out ``TrainingData``,
      higher is better (default: minus the loss).
    """

    _per_step = False
    _accepts_tokens = True  # whether embedding_dim (token input) applies to the task
    # What rnnfast.save writes besides the hyperparameters, and all that rnnfast.load restores
    _saved_attributes = frozenset(
        {"n_features_in_", "n_embeddings_", "network_", "_training_", "_x_mean", "_x_scale"}
        | {"frame_stride_", "frame_size_"}
        | {"loss_curve_", "validation_scores_", "best_epoch_", "n_iter_"}
    )
    _unsaved_attributes = frozenset({"_resuming"})  # a flag of the call in progress
    # callbacks (files, metrics of the user's) are never saved: a loaded model has none
    _reset_on_save: ClassVar[dict] = {"callbacks": None}
    # Whether inputs are standardised (statistics from fit) when the task has no
    # ``standardize`` parameter. Forecasting and anomaly scoring always are: their targets
    # are the inputs' own values, so a feature's scale must not dominate.
    _standardize_inputs = False
    # Per-sequence tasks stack long series into frames: an int-or-"auto" ``frame_stride``
    # parameter, fitted as ``frame_stride_``, and a ``frame_size`` fitted as ``frame_size_``.
    _stacks_frames = False

    # ------------------------------------------------------------------ inputs
    def _check_X(self, X, fitting: bool) -> Sequences:
        if self._reads_tokens(fresh=fitting):
            return check_token_sequences(X, estimator=self)
        n_features = None if fitting else self.n_features_in_
        return check_sequences(X, estimator=self, n_features=n_features)

    def _reads_tokens(self, fresh: bool = False) -> bool:
        """Token input: set by ``embedding_dim`` for a new network (``fresh``, or before the
        first fit), by the fitted network's embedding otherwise."""
        if fresh or not hasattr(self, "network_"):
            return getattr(self, "embedding_dim", None) is not None
        return getattr(self.network_, "embedding", None) is not None

    def _network_input(self, seqs: Sequences) -> Sequences:
        """The network's input for ``seqs``: standardised when the task asks for it; token
        ids the embedding never saw in ``fit`` read as the out-of-vocabulary id."""
        if self._reads_tokens():
            if not hasattr(self, "n_embeddings_"):
                return seqs
            values = np.where(seqs.values < self.n_embeddings_, seqs.values, OOV_ID)
            return Sequences(values, seqs.lengths, seqs.form)
        return stack_frames(self._standardized(seqs), self._frame_stride(), self._frame_size())

    def _standardization(self, fresh: bool = False) -> str | None:
        """How numeric inputs are standardised: ``"per_feature"`` (statistics fitted on the
        training steps), ``"per_sequence"`` (each sequence by its own),
        ``"per_sequence_level"`` (that and its levels in the training steps' units) or None,
        from the ``standardize`` parameter or the task's fixed choice; never token ids
        (``fresh``: as for a new network)."""
        if self._reads_tokens(fresh):
            return None
        mode = getattr(self, "standardize", self._standardize_inputs)
        if isinstance(mode, str):
            return mode  # one of STANDARDIZE_MODES, which check_shared_params lets through
        return "per_feature" if mode else None

    def _uses_training_statistics(self, fresh: bool = False) -> bool:
        """Whether the input transform reads ``_x_mean``/``_x_scale`` fitted on the training
        steps."""
        return self._standardization(fresh) in ("per_feature", "per_sequence_level")

    def _frame_stride(self) -> int:
        """Input steps stacked into one network step (see
        :func:`rnnfast.data.sequences.stack_frames`): the fitted ``frame_stride_``, or 1."""
        return vars(self).get("frame_stride_", 1)

    def _frame_size(self) -> int:
        """Input steps in each frame: the fitted ``frame_size_``, or the stride (no overlap;
        models saved before frame_size existed)."""
        return vars(self).get("frame_size_", self._frame_stride())

    def _standardized(self, seqs: Sequences) -> Sequences:
        mode = self._standardization()
        if mode == "per_sequence":
            return standardize_per_sequence(seqs)
        if mode == "per_sequence_level":
            return standardize_with_level(seqs, self._x_mean, self._x_scale)
        if mode is None:
            return seqs
        return Sequences((seqs.values - self._x_mean) / self._x_scale, seqs.lengths, seqs.form)

    def _fit_input_transform(self, seqs: Sequences) -> None:
        """Fit what ``_network_input`` does to numeric input: standardisation statistics and
        the frame stride, for a new network."""
        tokens = self._reads_tokens(fresh=True)
        for name in ("_x_mean", "_x_scale", "frame_stride_", "frame_size_"):
            vars(self).pop(name, None)
        if self._uses_training_statistics(fresh=True):
            self._fit_input_scale(seqs)
        if self._stacks_frames:
            self.frame_stride_ = resolve_frame_stride(self.frame_stride, seqs.lengths, tokens)
            self.frame_size_ = resolve_frame_size(self.frame_size, self.frame_stride_, tokens)

    def _fit_input_scale(self, seqs: Sequences) -> None:
        steps = seqs.values[per_step_mask(seqs.lengths, seqs.values.shape[1])]
        self._x_mean = steps.mean(axis=0).astype(np.float32)
        std = steps.std(axis=0)
        self._x_scale = np.where(std > 0, std, 1.0).astype(np.float32)

    def _check_weights(self, sample_weight, seqs: Sequences) -> np.ndarray:
        weights = _check_sample_weight(
            sample_weight, seqs.values[:, 0, 0], dtype=np.float32, ensure_non_negative=True
        )
        if weights.sum() <= 0:
            raise ValueError("sample_weight must have a positive sum")
        return weights

    # ------------------------------------------------------------------ fitting
    def _fit(self, X, y, sample_weight=None, *, incremental: bool = False, **target_kwargs):
        check_shared_params(self)
        self._check_task_params()
        resuming = getattr(self, "_resuming", False)
        first_call = not (incremental or self.warm_start or resuming) or not hasattr(
            self, "network_"
        )
        if not first_call and "_training_" not in vars(self):
            raise ValueError(
                f"this {type(self).__name__} holds no training state to continue from (it is a "
                "freeze() copy, or was saved from one): partial_fit and warm_start need the "
                "estimator it was frozen from; fit() with warm_start=False trains anew"
            )
        seqs = self._check_X(X, fitting=first_call)
        if first_call:
            self._fit_input_transform(seqs)
        targets, weights = self._prepare_targets(
            seqs, y, self._check_weights(sample_weight, seqs), fitting=first_call, **target_kwargs
        )
        train = TrainingData(self._network_input(seqs), targets, weights)
        if first_call:
            self.n_features_in_ = seqs.n_features
            if self._reads_tokens(fresh=True):  # a row for every id of fit, padding and OOV
                self.n_embeddings_ = max(int(seqs.values.max()) + 1, OOV_ID + 1)
            else:
                vars(self).pop("n_embeddings_", None)
            rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
            self.network_ = self._build_network(rng)
            optimizer = make_optimizer(
                self.optimizer,
                self.network_.params,
                self.learning_rate,
                weight_decay=self.weight_decay,
                momentum=self.momentum,
                nesterov=self.nesterov,
            )
            self._training_ = TrainingState(optimizer, None, rng)
            self._publish_history()  # the new network's (empty) history, from the start
        if self.bptt_steps is not None and not isinstance(self.network_, SequenceNetwork):
            raise ValueError(f"bptt_steps is not supported by {self._bptt_unsupported_reason()}")
        state = self._training_
        digest = training_digest(train)  # resume() checks it, after a checkpoint or Ctrl-C
        if resuming:
            if digest != state.progress.data_digest:
                raise ValueError(
                    "resume() needs the same training data (and sample_weight) as the "
                    "interrupted fit; these differ"
                )
        else:
            if state.schedule is None or not incremental:
                state.optimizer.learning_rate = self.learning_rate
                state.schedule = self._make_schedule(state.optimizer)
            split_seed = (
                int(state.rng.integers(2**31)) if self.early_stopping and not incremental else None
            )
            epochs = 1 if incremental else self.max_epochs
            state.progress = FitProgress(epochs, split_seed=split_seed, data_digest=digest)

        validation = None
        if state.progress.split_seed is not None:
            train, validation = self._split_validation(train, state.progress.split_seed)
        run_epochs(self, self.network_, state, train, validation, self._write_checkpoint)
        state.progress = None
        self._publish_history()
        return self

    def _write_checkpoint(self) -> None:
        self._publish_history()
        save(self, self.checkpoint_path)

    def resume(self, *fit_args, fit_method: str = "fit", **fit_kwargs):
        """Finish the fit that wrote this checkpoint, as if it had never stopped.

        Load the checkpoint with :func:`rnnfast.load` and pass the training data of the
        interrupted call again (checked against a fingerprint kept in the checkpoint). The
        remaining epochs then run from the saved weights, optimizer, schedule, early-stopping
        and random state, so the result is bit-identical to the uninterrupted fit on CPU.

        Parameters
        ----------
        *fit_args : object
            The positional arguments of the interrupted call, e.g. ``X, y``.
        fit_method : str, default "fit"
            The method that was interrupted (``"fit_series"`` for a forecaster fitted on a
            series).
        **fit_kwargs : object
            Its keyword arguments.

        Returns
        -------
        self : estimator
            The finished estimator.

        Examples
        --------
        >>> import rnnfast  # doctest: +SKIP
        >>> model = rnnfast.load("run.ckpt").resume(X, y)  # doctest: +SKIP
        """
        progress = getattr(getattr(self, "_training_", None), "progress", None)
        if progress is None:
            raise ValueError(
                f"this {type(self).__name__} holds no interrupted fit: resume() needs an "
                "estimator loaded from a checkpoint written during fit (see checkpoint_path)"
            )
        if fit_method not in ("fit", "fit_series") or not hasattr(self, fit_method):
            raise ValueError(
                f"fit_method must name a fit method of {type(self).__name__}, got {fit_method!r}"
            )
        self._resuming = True
        try:
            return getattr(self, fit_method)(*fit_args, **fit_kwargs)
        finally:
            del self._resuming

    def _bptt_unsupported_reason(self) -> str:
        return type(self).__name__

    def _build_network(self, rng: np.random.Generator) -> SequenceNetwork:
        return SequenceNetwork(
            self.cell,
            self._input_size(),
            self.hidden_size,
            self._output_size(),
            per_step=self._per_step,
            num_embeddings=getattr(self, "n_embeddings_", None),
            pooling=self._pooling(),
            **self._architecture(rng),
        )

    def _pooling(self) -> str:
        """What the head reads of a sequence: the ``pooling`` parameter of the per-sequence
        tasks that have one, else the final state."""
        return getattr(self, "pooling", "last")

    def _architecture(self, rng: np.random.Generator) -> dict:
        """The network keyword arguments that the shared hyperparameters set."""
        return dict(
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
            init=self.init,
            forget_bias=self.forget_bias,
            random_state=rng,
        )

    def _input_size(self) -> int:
        """Features per step of the network's input (the embedding's size for tokens)."""
        if "n_embeddings_" in vars(self):
            return self.embedding_dim
        channels = 3 if self._standardization() == "per_sequence_level" else 1
        return self.n_features_in_ * channels * self._frame_size()

    def _make_schedule(self, optimizer):
        params = dict(self.lr_schedule_params or {})
        if self.lr_schedule == "plateau":
            params.setdefault("mode", "max")  # the loop passes a higher-is-better value
        return make_schedule(
            self.lr_schedule, optimizer, self.max_epochs, params, self.warmup_epochs
        )

    def _split_validation(self, train: TrainingData, seed: int):
        n = len(train.sequences)
        stratify = self._stratify_labels(train.targets)
        n_val = max(1, round(self.validation_fraction * n))
        if n - n_val < 1:
            raise ValueError(
                f"early_stopping needs at least 2 sequences, got {n} (validation_fraction="
                f"{self.validation_fraction})"
            )
        try:
            fit_idx, val_idx = train_test_split(
                np.arange(n), test_size=n_val, random_state=seed, stratify=stratify
            )
        except ValueError:  # too few members in a class to stratify
            fit_idx, val_idx = train_test_split(np.arange(n), test_size=n_val, random_state=seed)
        return (
            TrainingData(*train.batch(np.sort(fit_idx), self._per_step)),
            TrainingData(*train.batch(np.sort(val_idx), self._per_step)),
        )

    def _stratify_labels(self, targets: np.ndarray) -> np.ndarray | None:
        return None

    def _publish_history(self) -> None:
        state = self._training_
        self.loss_curve_ = list(state.loss_curve)
        self.validation_scores_ = list(state.validation_scores) if state.validation_scores else None
        self.best_epoch_ = state.best_epoch
        self.n_iter_ = len(state.loss_curve)

    def _check_task_params(self) -> None:
        """Validate the subclass's own hyperparameters."""

    # ------------------------------------------------------------------ loading
    def _check_loaded_state(self) -> None:
        """Called by :func:`rnnfast.load` after the networks' own checks: hyperparameters are
        in range and the fitted parts agree, so a loaded model predicts or was never fitted."""
        check_shared_params(self)
        self._check_task_params()
        if "network_" not in vars(self):
            return
        check_positive_int(self.n_features_in_, "n_features_in_")
        if self._stacks_frames:
            check_positive_int(vars(self).get("frame_stride_"), "frame_stride_")
            if "frame_size_" in vars(self) and (
                check_positive_int(self.frame_size_, "frame_size_") < self.frame_stride_
            ):
                raise ValueError("frame_size_ must be at least frame_stride_")
        self._check_loaded_targets()
        self._check_loaded_network(self.network_)
        if "_training_" not in vars(self):  # saved from a freeze() copy: it predicts only
            return
        training = vars(self)["_training_"]
        if not isinstance(training, TrainingState):
            raise TypeError("_training_ must be the fit's TrainingState")
        params = getattr(training.optimizer, "params", None)
        if (
            not isinstance(params, dict)
            or params.keys() != self.network_.params.keys()
            or any(params[name] is not array for name, array in self.network_.params.items())
        ):
            raise ValueError("the optimizer does not hold network_'s parameters")

    def _check_loaded_network(self, net) -> None:
        """The loaded ``network_`` is the task's kind and takes and gives its sizes."""
        if not isinstance(net, (SequenceNetwork, SequenceAutoencoder)) or net.dtype != np.float32:
            raise TypeError("network_ must be a float32 SequenceNetwork or SequenceAutoencoder")
        if isinstance(net, SequenceNetwork) and net.per_step != self._per_step:
            raise ValueError("network_ gives one output per step where the task does not, or not")
        if net.input_size != self._input_size() or net.output_size != self._output_size():
            raise ValueError(
                f"network_ maps {net.input_size} features to {net.output_size} outputs; this "
                f"{type(self).__name__} needs {self._input_size()} to {self._output_size()}"
            )
        if self._uses_training_statistics():
            check_statistics(
                vars(self).get("_x_mean"), vars(self).get("_x_scale"), self.n_features_in_, "_x"
            )
        embedding = getattr(net, "embedding", None)
        if (embedding is None) != ("n_embeddings_" not in vars(self)) or (
            embedding is not None and embedding.num_embeddings != self.n_embeddings_
        ):
            raise ValueError("n_embeddings_ does not match network_'s embedding")
        if embedding is not None and not self._accepts_tokens:
            raise ValueError(f"{type(self).__name__} does not read token input")

    def _check_loaded_targets(self) -> None:
        """Check the task's fitted target attributes (``classes_`` etc.) of a loaded model."""

    # ------------------------------------------------------------------ inference
    def freeze(self, precision: str = "float"):
        """An inference-only copy of this fitted estimator whose network is frozen.

        Every ``predict`` packs the recurrent weights into the layout the kernels read,
        because ``network_`` may have changed since the last call; a frozen copy holds a
        snapshot of the network with its weights packed once
        (:meth:`rnnfast.nn.SequenceNetwork.freeze`), like an onnxruntime session: what to
        serve many small requests with.

        Parameters
        ----------
        precision : {"float", "bfloat16", "int8"}, default "float"
            How the recurrent weights are stored and applied
            (:meth:`rnnfast.nn.RecurrentStack.freeze`): ``"int8"`` is torch's dynamic
            quantization, ``"bfloat16"`` rounds the weights to bfloat16. Reduced precisions
            change the outputs slightly (about 1e-2 and 2e-3 relative); check the copy's
            ``score`` on held-out data before serving it.

        Returns
        -------
        estimator
            A copy of the same class whose ``predict``, ``predict_proba``, ``score`` and
            the task's other inference methods return exactly what this estimator's would (at
            ``precision="float"``), bit for bit. It holds no training state: ``partial_fit``
            and a ``warm_start`` fit raise ValueError (``fit`` with ``warm_start=False``
            trains anew), and later training of this estimator does not reach it: freeze
            again after training. It pickles, and :func:`rnnfast.save` writes it as a model
            that predicts (in its precision) but does not continue training.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        TypeError
            For a network that is not a :class:`rnnfast.nn.SequenceNetwork`: the anomaly
            detector's with ``method="reconstruction"`` (an autoencoder), the translator's
            (an encoder-decoder).
        ValueError
            For an unknown ``precision``, or a reduced one on a float64 network.
        """
        check_is_fitted(self, "network_")
        if not isinstance(self.network_, SequenceNetwork):
            raise TypeError(
                f"{type(self).__name__}.freeze() needs a SequenceNetwork, and its network_ is "
                f"a {type(self.network_).__name__}"
            )
        frozen = copy.copy(self)
        frozen.network_ = self.network_.freeze(precision)
        vars(frozen).pop("_training_", None)
        return frozen

    def _forward_all(self, seqs: Sequences) -> np.ndarray:
        """Network outputs for every sequence, in input order (padded per step when per-step)."""
        check_is_fitted(self, "network_")
        return self._outputs(self._network_input(seqs))

    def _outputs(self, net_input: Sequences) -> np.ndarray:
        out_shape = (
            (len(net_input),)
            + ((net_input.values.shape[1],) if self._per_step else ())
            + (self.network_.output_size,)
        )
        outputs = np.zeros(out_shape, np.float32)
        batch_size, window = self._inference_split(net_input.values.shape[1])
        for index in inference_batches(net_input.lengths, batch_size):
            batch = net_input.subset(index)
            if batch.values.shape[1] > window:
                result = stream_outputs(self.network_, batch.values, batch.lengths, window)
            else:
                result = self._network_forward(self.network_, batch, training=False)
            if self._per_step:
                outputs[index, : result.shape[1]] = result
            else:
                outputs[index] = result
        return outputs

    def _network_forward(self, network, seqs: Sequences, training: bool) -> np.ndarray:
        """The network's outputs for a padded batch (tasks with other inputs override)."""
        return network.forward(seqs.values, batch_lengths(seqs.lengths), training=training)

    def _inference_split(self, time: int) -> tuple[int, int]:
        """``(batch size, window)`` for inference on sequences of up to ``time`` steps: at most
        ``_INFERENCE_BATCH`` sequences and windows of ``_STREAM_WINDOW`` steps (when the
        network can stream), fewer where the core's 32-bit size limit needs it."""
        window = min(time, _STREAM_WINDOW) if self._can_stream() else time
        while self.network_.max_batch(window) < 1 and window > 1 and self._can_stream():
            window //= 2
        # a non-streaming network that cannot take even one such sequence says so itself
        return max(1, min(_INFERENCE_BATCH, self.network_.max_batch(window))), window

    def _can_stream(self) -> bool:
        """Whether inference may run window by window: a unidirectional SequenceNetwork."""
        net = self.network_
        return (
            isinstance(net, SequenceNetwork)
            and not net.recurrent.bidirectional
            and net.embedding is None
            and net.pooling == "last"
        )

    # ------------------------------------------------------------------ export
    def _inference_plan(self):
        """The :class:`~rnnfast.estimators._plan.InferencePlan` of ``predict`` (exporters)."""
        raise TypeError(
            f"{type(self).__name__} cannot be exported as a whole; export its network_ instead"
        )

    def _input_standardization(self) -> dict:
        """The :class:`InferencePlan` fields of what ``_network_input`` does to ``X``: the
        standardisation and frame stacking, or the out-of-vocabulary mapping of token ids."""
        if self._reads_tokens():
            return dict(vocabulary_size=self.n_embeddings_)
        mode = self._standardization()
        fields = dict(
            frame_stride=self._frame_stride(),
            frame_size=self._frame_size(),
            per_sequence=mode in ("per_sequence", "per_sequence_level"),
            sequence_level=mode == "per_sequence_level",
        )
        if self._uses_training_statistics():
            fields.update(input_mean=self._x_mean, input_scale=self._x_scale)
        return fields

    def _validation_score(self, data: TrainingData) -> float:
        """Minus the loss on held-out ``data`` without dropout (tasks may override)."""
        outputs = self._outputs(data.sequences)
        loss, _ = self._loss(outputs, data.targets, data.weights, data.sequences.lengths)
        return -loss

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


def per_step_loss(loss_fn, outputs, targets, weights, lengths):
    """``loss_fn`` (e.g. ``cross_entropy``) over the valid steps of per-step ``outputs``
    ``(n, time, k)``; the gradient is zero on padding."""
    mask = per_step_mask(lengths, outputs.shape[1])
    loss, grad_valid = loss_fn(outputs[mask], targets[mask], weights[mask])
    grad = np.zeros_like(outputs)
    grad[mask] = grad_valid
    return loss, grad


def check_statistics(mean, scale, size: int, name: str) -> None:
    """Loaded standardisation statistics: finite arrays of shape ``(size,)``, scales > 0."""
    for array in (mean, scale):
        if not isinstance(array, np.ndarray) or array.shape != (size,) or array.dtype.kind != "f":
            raise ValueError(f"{name} statistics must be float arrays of shape ({size},)")
        if not np.isfinite(array).all():
            raise ValueError(f"{name} statistics hold NaN or infinite values")
    if not (scale > 0).all():
        raise ValueError(f"{name} scales must be positive")
