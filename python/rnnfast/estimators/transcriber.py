"""Transcription of unsegmented sequences with CTC: frames in, a label string out, no
alignment given (speech to text, handwriting, reading symbols out of a signal)."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from rnnfast._validation import check_number
from rnnfast.data.sequences import Sequences, stack_frames
from rnnfast.estimators._base import RNNEstimatorBase
from rnnfast.estimators._params import shared_init
from rnnfast.estimators._plan import InferencePlan
from rnnfast.estimators._targets import check_loaded_classes
from rnnfast.metrics import label_error_rate
from rnnfast.nn.ctc_decode import ctc_beam_decode, ctc_greedy_decode
from rnnfast.nn.losses import ctc_loss, softmax
from rnnfast.persistence import persistable

_BLANK = 0  # column of the blank in the network's output; label k is column k + 1


@persistable()
@shared_init(frame_stride=1, bidirectional=True)
class SequenceTranscriber(RNNEstimatorBase):
    """Read label sequences out of unsegmented input sequences, trained with CTC.

        A recurrent stack (bidirectional by default) gives each step a softmax over the labels
        plus a blank; training maximises the probability of each target summed over all its
        alignments to the input (Connectionist Temporal Classification, see
        :func:`rnnfast.nn.losses.ctc_loss`), so no frame-level segmentation is needed.
        ``predict`` decodes by best path or prefix beam search. Inputs are standardised with
        statistics from ``fit``.

        Parameters
        ----------
        frame_stride : int, default 1
            Stack this many consecutive input steps into one network step (speech has far
            more frames than labels; stacking shortens the sequences the network runs over).
            Each target must still fit its stacked input: ``len(target) + repeats <=
            ceil(len(x) / frame_stride)``, where repeats counts neighbouring equal labels.
    %(shared_parameters)s
        Attributes
        ----------
        classes_ : ndarray
            The labels, sorted (characters for string targets). The network's output column
            0 is the blank and column ``k + 1`` is ``classes_[k]``.
        target_type_ : {"str", "labels"}
            Whether ``fit`` was given strings (``predict`` returns strings) or label sequences
            (``predict`` returns arrays of labels).
        n_features_in_ : int
        network_ : rnnfast.nn.SequenceNetwork
        loss_curve_ : list of float
            Mean training CTC loss per epoch (per label, as torch's ``reduction="mean"``).
        validation_scores_ : list of float or None
            ``1 - label error rate`` (best path) on the validation split, with
            ``early_stopping``.
        best_epoch_, n_iter_
            As in :class:`RNNClassifier`.

        Examples
        --------
        >>> import numpy as np
        >>> from rnnfast import SequenceTranscriber
        >>> rng = np.random.default_rng(0)
        >>> def utterance(text):  # each symbol: 3-5 noisy steps on its own channel
        ...     steps = [np.eye(3)[ord(c) - 97] for c in text for _ in range(rng.integers(3, 6))]
        ...     return np.array(steps) + 0.1 * rng.standard_normal((len(steps), 3))
        >>> y = ["".join(rng.choice(list("abc"), size=4)) for _ in range(200)]
        >>> X = [utterance(text) for text in y]
        >>> model = SequenceTranscriber(max_epochs=15, random_state=0).fit(X, y)
        >>> model.score(X, y) > 0.9
        True
    """

    _accepts_tokens = False

    _per_step = True
    _standardize_inputs = True

    def fit(self, X, y, sample_weight=None):
        """Train on input sequences ``X`` and their transcriptions ``y``.

        Parameters
        ----------
        %(X)s
        y : sequence of n str, or of n 1-D sequences of hashable labels
            The transcriptions (a string's characters are its labels); some may be empty, but
            not all.
        %(sample_weight)s

        Returns
        -------
        self : SequenceTranscriber
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one epoch on ``(X, y)``, continuing from the current weights.

        Parameters
        ----------
        %(X)s
        y : sequence of n str, or of n 1-D sequences of hashable labels
            The transcriptions (a string's characters are its labels).
        classes : array-like, optional
            Every label there will ever be; required on the first call.
        %(sample_weight)s

        Returns
        -------
        self : SequenceTranscriber
            The updated estimator.
        """
        if not hasattr(self, "network_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict(self, X, beam_size: int = 1) -> list:
        """The transcription of each sequence.

        Parameters
        ----------
        %(X)s
        beam_size : int, default 1
            1: best-path decoding (the most probable label at each step, repeats collapsed,
            blanks dropped); more: prefix beam search keeping this many prefixes, which sums
            each candidate's alignments (see :func:`rnnfast.nn.ctc_decode.ctc_beam_decode`).

        Returns
        -------
        list of str, or list of 1-D ndarrays of labels
            Strings when ``fit`` was given strings.
        """
        beam_size = check_number(beam_size, "beam_size", 1, integer=True)
        check_is_fitted(self, "network_")
        net_input, logits = self._logits(self._check_X(X, fitting=False))
        return [self._labels_of(c) for c in self._decode(logits, net_input.lengths, beam_size)]

    def predict_posteriors(self, X):
        """Per-step probabilities of the blank and each label.

        Parameters
        ----------
        %(X)s

        Returns
        -------
        ndarray of shape (n, steps, 1 + n_classes), or list of (steps_i, 1 + n_classes)
            Column 0 is the blank, column ``k + 1`` is ``classes_[k]``. A step is
            ``frame_stride`` input steps: ``steps_i = ceil(time_i / frame_stride)``. A list for
            list input, else padded (zeros past each sequence's steps).
        """
        check_is_fitted(self, "network_")
        net_input, logits = self._logits(self._check_X(X, fitting=False))
        probabilities = softmax(logits)
        probabilities[np.arange(probabilities.shape[1]) >= net_input.lengths[:, None]] = 0
        return net_input.unpad(probabilities)

    def score(self, X, y, sample_weight=None) -> float:
        """Return ``1 - label error rate`` of the best-path transcriptions.

        Parameters
        ----------
        %(X)s
        y : sequence of n str, or of n 1-D sequences of hashable labels
            The transcriptions (a string's characters are its labels).
        sample_weight : array-like of shape (n,), optional
            Weight of each sequence's errors and length.

        Returns
        -------
        float
            One minus the total edit distance between the transcriptions and ``y`` over the
            total length of ``y``. 1 is perfect; it can be negative when the output is much
            longer than the reference.
        """
        check_is_fitted(self, "network_")
        seqs = self._check_X(X, fitting=False)
        references = self._check_transcriptions(y, len(seqs), fitting=False)
        weights = self._check_weights(sample_weight, seqs)
        net_input, logits = self._logits(seqs)
        hypotheses = [self._labels_of(c) for c in self._decode(logits, net_input.lengths, 1)]
        return 1.0 - label_error_rate(references, hypotheses, weights)

    def _logits(self, seqs: Sequences) -> tuple[Sequences, np.ndarray]:
        """The network's input for checked ``seqs`` (stacked frames) and its outputs."""
        net_input = self._network_input(seqs)
        return net_input, self._outputs(net_input)

    @staticmethod
    def _decode(logits, lengths, beam_size: int) -> list[np.ndarray]:
        """Output columns of each sequence's transcription: best path, or beam search."""
        if beam_size == 1:
            return ctc_greedy_decode(logits, lengths, blank=_BLANK)
        return ctc_beam_decode(logits, lengths, _BLANK, beam_size)

    def _inference_plan(self) -> InferencePlan:
        check_is_fitted(self, "network_")
        # exported "label" per step: the column index (0 = blank, k + 1 = classes_[k])
        return InferencePlan(
            self.network_,
            "probabilities",
            classes=np.arange(1 + len(self.classes_)),
            **self._input_standardization(),
        )

    # ------------------------------------------------------------------ task hooks
    def _check_task_params(self):
        check_number(self.frame_stride, "frame_stride", 1, integer=True)
        if self.bptt_steps is not None:
            raise ValueError(
                "bptt_steps is not supported by SequenceTranscriber: the CTC loss of a "
                "transcription needs the whole sequence"
            )

    def _frame_stride(self) -> int:
        return self.frame_stride

    _saved_attributes = RNNEstimatorBase._saved_attributes | {"classes_", "target_type_"}

    def _check_loaded_targets(self):
        check_loaded_classes(self.classes_, minimum=1)
        if self.target_type_ not in ("str", "labels"):
            raise ValueError(f"target_type_ must be 'str' or 'labels', got {self.target_type_!r}")

    def _output_size(self) -> int:
        return 1 + len(self.classes_)

    def _check_transcriptions(self, y, n: int, fitting: bool) -> list:
        """``y`` as a list of n label lists; sets ``target_type_`` when fitting."""
        if y is None:
            raise ValueError("requires y to be passed, but the target y is None")
        if isinstance(y, (str, bytes)) or not hasattr(y, "__len__"):
            raise TypeError(f"y must be a sequence of transcriptions, got {type(y).__name__}")
        if len(y) != n:
            raise ValueError(f"X has {n} sequences but y has {len(y)} transcriptions")
        strings = [isinstance(item, str) for item in y]
        if any(strings) and not all(strings):
            raise TypeError("y must hold only strings or only label sequences, not both")
        kind = "str" if all(strings) and n else "labels"
        if fitting:
            self.target_type_ = kind
        rows = []
        for i, item in enumerate(y):
            if kind == "str":
                rows.append(list(item))
                continue
            if isinstance(item, (bytes, dict, set)) or _ndim(item) != 1:
                raise TypeError(
                    f"y[{i}] must be a string or a 1-D sequence of labels, got {item!r:.60}"
                )
            rows.append([x.item() if isinstance(x, np.generic) else x for x in item])
        return rows

    def _prepare_targets(self, seqs, y, weights, fitting, classes=None):
        rows = self._check_transcriptions(y, len(seqs), fitting)
        flat = [label for row in rows for label in row]
        if fitting:
            found = flat if classes is None else list(classes)
            if not found:
                raise ValueError("y holds no labels at all: every transcription is empty")
            try:  # as objects: numpy would turn a mix of 7 and "up" into strings
                unique = np.unique(np.array(found, dtype=object))
            except TypeError as error:
                raise TypeError(
                    f"the labels in y must be comparable with each other: {error}"
                ) from None
            self.classes_ = np.asarray(unique.tolist())
        codes = [self._codes_of(row, i) for i, row in enumerate(rows)]
        steps = stack_frames(seqs, self.frame_stride).lengths
        for i, row in enumerate(codes):
            needed = len(row) + int(np.count_nonzero(row[1:] == row[:-1]))
            if needed > steps[i]:
                raise ValueError(
                    f"X[{i}] is too short for its transcription y[{i}]: CTC needs at least "
                    f"{needed} steps (labels plus a blank between repeats) but it has "
                    f"{steps[i]} (time {seqs.lengths[i]}, frame_stride {self.frame_stride})"
                )
        targets = np.full((len(codes), max(1, max(map(len, codes)))), -1, np.int64)
        for i, row in enumerate(codes):
            targets[i, : len(row)] = row
        return targets, weights[:, None]

    def _codes_of(self, row: list, i: int) -> np.ndarray:
        """Output columns of row ``i``'s labels (ValueError for labels not seen in fit)."""
        columns = {label: k + 1 for k, label in enumerate(self.classes_.tolist())}
        try:
            codes = [columns.get(label, 0) for label in row]
        except TypeError:  # an unhashable label cannot be one of the classes
            codes = [0] * len(row)
        unseen = [label for label, code in zip(row, codes, strict=True) if code == 0]
        if unseen:
            raise ValueError(f"y[{i}] contains labels not seen during fit: {unseen[:10]}")
        return np.asarray(codes, dtype=np.int64)

    def _labels_of(self, codes: np.ndarray):
        labels = self.classes_[codes - 1]
        return "".join(labels) if self.target_type_ == "str" else labels

    def _loss(self, outputs, targets, weights, lengths):
        rows = [row[row >= 0] for row in targets]
        nll, grad = ctc_loss(outputs, rows, lengths, blank=_BLANK, reduction="none")
        # torch's "mean" (per label, then over sequences), weighted by sample_weight
        label_counts = np.maximum([len(r) for r in rows], 1)
        scale = (weights[:, 0] / weights.sum() / label_counts).astype(outputs.dtype)
        grad *= scale[:, None, None]
        return float((nll * scale).sum()), grad

    def _validation_score(self, data) -> float:
        decoded = self._decode(self._outputs(data.sequences), data.sequences.lengths, 1)
        references = [row[row >= 0] for row in data.targets]
        if not any(len(r) for r in references):  # only empty transcriptions held out
            return -float(sum(map(len, decoded)))  # best: output nothing
        return 1.0 - label_error_rate(references, decoded, data.weights[:, 0])


def _ndim(item) -> int | None:
    """Dimensions of ``item`` as an array; None when it is ragged (numpy refuses it)."""
    try:
        return np.ndim(item)
    except ValueError:
        return None
