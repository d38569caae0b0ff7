"""Sequence tagging: one label per time step (part-of-speech style, segmentation, events)."""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from rnnfast.estimators._base import RNNEstimatorBase, per_step_loss, per_step_mask
from rnnfast.estimators._params import shared_init
from rnnfast.estimators._plan import InferencePlan
from rnnfast.estimators._targets import (
    check_class_weight,
    check_loaded_classes,
    class_weights_for,
    encode_labels,
    fit_classes,
)
from rnnfast.nn.losses import cross_entropy, softmax
from rnnfast.persistence import persistable


@persistable()
@shared_init(class_weight=None, standardize=True, bidirectional=True)
class SequenceTagger(RNNEstimatorBase):
    """Label every time step of every sequence.

        Each step's output of the top layer (both directions: by default the tagger is
        bidirectional, so a step's label may depend on what comes after it) feeds a linear layer
        trained with softmax cross-entropy over all valid steps.

        Parameters
        ----------
        class_weight : dict, "balanced" or None, default None
            Weights of each label's loss (``"balanced"``: inverse label frequency over all steps).
        %(standardize)s
    %(shared_parameters)s
        Attributes
        ----------
        classes_ : ndarray
            The labels, sorted.
        n_features_in_ : int
        network_ : rnnfast.nn.SequenceNetwork
        loss_curve_, validation_scores_, best_epoch_, n_iter_
            As in :class:`RNNClassifier` (validation score: per-step accuracy).

        Examples
        --------
        >>> import numpy as np
        >>> from rnnfast import SequenceTagger
        >>> rng = np.random.default_rng(0)
        >>> X = [rng.integers(0, 2, size=n).astype(float) for n in rng.integers(5, 15, size=300)]
        >>> y = [np.cumsum(x) % 2 for x in X]  # tag: parity of the ones seen so far
        >>> tagger = SequenceTagger(bidirectional=False, max_epochs=40, random_state=0).fit(X, y)
        >>> tagger.score(X, y) > 0.95
        True
    """

    _per_step = True

    def fit(self, X, y, sample_weight=None):
        """Train on sequences ``X`` and per-step labels ``y``.

        Parameters
        ----------
        %(X)s
        y : array of shape (n, time), or list of 1-D arrays with ``len(y[i]) == len(X[i])``
            A label per valid step of each sequence.
        sample_weight : array-like of shape (n,), optional
            Weight of each sequence (applies to all its steps).

        Returns
        -------
        self : SequenceTagger
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one epoch on ``(X, y)``, continuing from the current weights.

        Parameters
        ----------
        %(X)s
        y : array of shape (n, time), or list of 1-D arrays with ``len(y[i]) == len(X[i])``
            A label per valid step of each sequence.
        %(classes)s
        sample_weight : array-like of shape (n,), optional
            Weight of each sequence (applies to all its steps).

        Returns
        -------
        self : SequenceTagger
            The updated estimator.
        """
        if not hasattr(self, "network_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Predict class probabilities at every valid step.

        Parameters
        ----------
        %(X)s

        Returns
        -------
        ndarray of shape (n, time, n_classes), or list of (time_i, n_classes) arrays
            A list for list input; columns ordered as ``classes_``.
        """
        check_is_fitted(self, "network_")
        seqs = self._check_X(X, fitting=False)
        return seqs.unpad(softmax(self._forward_all(seqs)))

    def predict(self, X):
        """Predict the label of every valid step.

        Parameters
        ----------
        %(X)s

        Returns
        -------
        ndarray of shape (n, time), or list of 1-D arrays
            A list for list input.
        """
        check_is_fitted(self, "network_")
        seqs = self._check_X(X, fitting=False)
        labels = self.classes_[np.argmax(self._forward_all(seqs), axis=-1)]
        return seqs.unpad(labels)

    def score(self, X, y, sample_weight=None) -> float:
        """Return the accuracy over all valid time steps.

        Parameters
        ----------
        %(X)s
        y : array of shape (n, time), or list of 1-D arrays with ``len(y[i]) == len(X[i])``
            A label per valid step of each sequence.
        sample_weight : array-like of shape (n,), optional
            Weight of each sequence (applies to all its steps).

        Returns
        -------
        float
            The share of valid steps labelled right, weighted per sequence.
        """
        check_is_fitted(self, "network_")
        seqs = self._check_X(X, fitting=False)
        codes, mask = self._per_step_labels(seqs, y)
        weights = self._check_weights(sample_weight, seqs)
        predicted = np.argmax(self._forward_all(seqs), axis=-1)
        step_weights = np.broadcast_to(weights[:, None], mask.shape)[mask]
        return float(np.average(predicted[mask] == codes[mask], weights=step_weights))

    def _inference_plan(self) -> InferencePlan:
        check_is_fitted(self, "network_")
        return InferencePlan(
            self.network_,
            "probabilities",
            classes=self.classes_,
            **self._input_standardization(),
        )

    # task hooks
    def _check_task_params(self):
        check_class_weight(self.class_weight)

    def _per_step_labels(self, seqs, y, fitting=False, classes=None):
        """Labels as an ``(n, time)`` code array (-1 on padding) and the valid-step mask."""
        if y is None:
            raise ValueError("requires y to be passed, but the target y is None")
        if len(y) != len(seqs):
            raise ValueError(f"X has {len(seqs)} sequences but y has {len(y)}")
        rows = [np.asarray(row) for row in y]
        for i, row in enumerate(rows):
            if row.ndim != 1 or len(row) != seqs.lengths[i]:
                raise ValueError(
                    f"y[{i}] must be a 1-D array of one label per time step ({seqs.lengths[i]}), "
                    f"got shape {row.shape}"
                )
        flat = np.concatenate(rows)
        check_classification_targets(flat)
        if fitting:
            self.classes_ = fit_classes(flat, classes)
        mask = per_step_mask(seqs.lengths, seqs.values.shape[1])
        codes = np.full(mask.shape, -1, np.int64)
        codes[mask] = encode_labels(flat, self.classes_)
        return codes, mask

    def _prepare_targets(self, seqs, y, weights, fitting, classes=None):
        codes, mask = self._per_step_labels(seqs, y, fitting, classes)
        step_weights = np.zeros(mask.shape, np.float32)
        step_weights[mask] = np.broadcast_to(weights[:, None], mask.shape)[
            mask
        ] * class_weights_for(self.class_weight, self.classes_, codes[mask])
        return codes, step_weights

    _saved_attributes = RNNEstimatorBase._saved_attributes | {"classes_"}

    def _check_loaded_targets(self):
        check_loaded_classes(self.classes_, minimum=2)

    def _output_size(self) -> int:
        return len(self.classes_)

    def _loss(self, outputs, targets, weights, lengths):
        return per_step_loss(cross_entropy, outputs, targets, weights, lengths)

    def _validation_score(self, data) -> float:
        mask = per_step_mask(data.sequences.lengths, data.targets.shape[1])
        predicted = np.argmax(self._outputs(data.sequences), axis=-1)
        return float(np.average(predicted[mask] == data.targets[mask], weights=data.weights[mask]))

    def _stratify_labels(self, targets):
        return None
