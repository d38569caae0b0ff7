"""Sequence classification: one class per sequence."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from rnnfast.estimators._base import RNNEstimatorBase
from rnnfast.estimators._params import shared_init
from rnnfast.estimators._plan import InferencePlan
from rnnfast.estimators._targets import (
    check_class_weight,
    check_loaded_classes,
    class_weights_for,
    encode_labels,
    fit_classes,
    labels_1d,
)
from rnnfast.nn.losses import cross_entropy, softmax
from rnnfast.persistence import persistable


@persistable()
# The defaults after class_weight were chosen by cross-validation on the training splits of
# 11 UCR/UEA data sets: bench/select_defaults.py, its log in bench/results/.
@shared_init(
    class_weight=None,
    pooling="max",
    standardize="per_sequence_level",
    frame_stride="auto",
    frame_size=None,
    cell="gru",
    bidirectional=True,
    hidden_size=64,
    batch_size=16,
    max_epochs=200,
)
class RNNClassifier(ClassifierMixin, RNNEstimatorBase):
    """Recurrent network classifier: a sequence in, a class out.

        The recurrent stack reads the (standardised, frame-stacked) sequence; its outputs,
        pooled over the valid steps (``pooling``), feed a linear layer trained with softmax
        cross-entropy. The defaults (a bidirectional GRU of 64 units, max pooling, 200 epochs
        of batches of 16) were chosen by cross-validation on the training splits of 11 UCR/UEA
        data sets; see the README's table for how they fare on the test splits.

        Parameters
        ----------
        class_weight : dict, "balanced" or None, default None
            Weights multiplying each class's loss; ``"balanced"`` uses
            ``n_samples / (n_classes * count(class))``.
        %(pooling)s
        %(standardize)s
        %(frame_stride)s
    %(shared_parameters)s
        Attributes
        ----------
        classes_ : ndarray of shape (n_classes,)
        n_features_in_ : int
            Features per time step (1 for 2-D input, which means univariate sequences).
        network_ : rnnfast.nn.SequenceNetwork
            The trained network (its ``recurrent`` stack and ``head`` can be inspected).
        loss_curve_ : list of float
            Mean training loss of each epoch.
        validation_scores_ : list of float or None
            Validation accuracy of each epoch with ``early_stopping``, else None.
        best_epoch_ : int
            Epoch (1-based) with the best validation score, or the lowest training loss.
        n_iter_ : int
            Epochs run.

        Examples
        --------
        >>> import numpy as np
        >>> from rnnfast import RNNClassifier
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((200, 12, 1)).astype(np.float32)
        >>> y = (X[:, :, 0].sum(axis=1) > 0).astype(int)  # is the running sum positive?
        >>> clf = RNNClassifier(hidden_size=16, max_epochs=30, random_state=0).fit(X, y)
        >>> clf.score(X, y) > 0.9
        True
    """

    def fit(self, X, y, sample_weight=None):
        """Train on sequences ``X`` and labels ``y``.

        Parameters
        ----------
        %(X)s
        y : array-like of shape (n,)
            Class labels.
        %(sample_weight)s

        Returns
        -------
        self : RNNClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one epoch on ``(X, y)``, continuing from the current weights.

        Parameters
        ----------
        %(X)s
        y : array-like of shape (n,)
            Class labels.
        %(classes)s
        %(sample_weight)s

        Returns
        -------
        self : RNNClassifier
            The updated estimator.
        """
        if not hasattr(self, "network_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Predict class probabilities.

        Parameters
        ----------
        %(X)s

        Returns
        -------
        ndarray of shape (n, n_classes)
            Probabilities, columns ordered as ``classes_``.
        """
        check_is_fitted(self, "network_")
        return softmax(self._forward_all(self._check_X(X, fitting=False)))

    def predict(self, X) -> np.ndarray:
        """Predict the most probable class of each sequence.

        Parameters
        ----------
        %(X)s

        Returns
        -------
        ndarray of shape (n,)
            Labels from ``classes_``.
        """
        check_is_fitted(self, "network_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _inference_plan(self) -> InferencePlan:
        check_is_fitted(self, "network_")
        return InferencePlan(
            self.network_,
            "probabilities",
            classes=self.classes_,
            **self._input_standardization(),
        )

    # task hooks
    _stacks_frames = True

    def _check_task_params(self):
        check_class_weight(self.class_weight)

    def _prepare_targets(self, seqs, y, weights, fitting, classes=None):
        y = labels_1d(y, len(seqs))
        if fitting:
            self.classes_ = fit_classes(y, classes)
        codes = encode_labels(y, self.classes_)
        return codes, weights * class_weights_for(self.class_weight, self.classes_, codes)

    _saved_attributes = RNNEstimatorBase._saved_attributes | {"classes_"}

    def _check_loaded_targets(self):
        check_loaded_classes(self.classes_, minimum=2)

    def _output_size(self) -> int:
        return len(self.classes_)

    def _loss(self, outputs, targets, weights, lengths):
        return cross_entropy(outputs, targets, weights)

    def _validation_score(self, data) -> float:
        predicted = np.argmax(self._outputs(data.sequences), axis=1)
        return float(np.average(predicted == data.targets, weights=data.weights))

    def _stratify_labels(self, targets):
        return targets
