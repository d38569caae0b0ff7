"""What an estimator's ``predict`` computes, spelled out for exporters (ONNX, PyTorch).

An estimator that can be exported returns an :class:`InferencePlan` from
``_inference_plan()``; the exporters rebuild exactly these steps in another runtime:

    x -> (x - input_mean) / input_scale -> stack frames of steps -> network -> softmax
      (or each sequence z-normalised, with or without its levels)       (probabilities)
                                         -> * output_scale + output_mean  (values)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class InferencePlan:
    """The numeric path from a padded batch ``(batch, time, n_features)`` to predictions.

    Attributes
    ----------
    network : rnnfast.nn.SequenceNetwork
    input_mean, input_scale : ndarray of shape (n_features,) or None
        Input standardisation, when the estimator learns on standardised inputs; with
        ``sequence_level``, the units of the level channels instead.
    per_sequence : bool
        Each sequence standardised per feature by its own mean and standard deviation over
        its valid steps, computed in float64, a deviation of 0 read as 1 (see
        :func:`rnnfast.data.sequences.standardize_per_sequence`); with ``input_mean`` only
        when ``sequence_level``.
    sequence_level : bool
        With ``per_sequence``: the z-normalised features are followed by each sequence's
        ``(mean - input_mean) / input_scale`` and ``log(max(std / input_scale, 1e-3))`` per
        feature, repeated over its valid steps and 0 past its length (see
        :func:`rnnfast.data.sequences.standardize_with_level`): the network reads
        ``3 * n_features`` channels per input step.
    kind : {"probabilities", "values"}
        Softmax over the network outputs (classifiers, taggers), or an affine map of them.
    output_mean, output_scale : ndarray of shape (n_outputs,) or None
        The affine map for ``"values"``.
    classes : ndarray or None
        Labels of the probability columns.
    value_shape : tuple of int
        Shape of one sequence's predicted values (``()`` for a single target): the network's
        ``n_outputs`` reshaped, as ``predict`` returns it.
    frame_stride : int
        Consecutive input steps stacked into one network step (zeros past each sequence's
        length and up to a multiple of the stride; lengths become ``ceil(length / stride)``),
        see :func:`rnnfast.data.sequences.stack_frames`. 1: none.
    frame_size : int or None
        Input steps in each frame (at least ``frame_stride``; more: frames overlap, network
        step ``k`` reading input steps ``[k * frame_stride, k * frame_stride + frame_size)``).
        None: ``frame_stride``.
    vocabulary_size : int or None
        Token input ``(batch, time)`` of integer ids: ids at or past this read as the
        out-of-vocabulary id 1 before the network's embedding. None: numeric input.
    """

    network: object
    kind: str
    input_mean: np.ndarray | None = None
    input_scale: np.ndarray | None = None
    per_sequence: bool = False
    sequence_level: bool = False
    output_mean: np.ndarray | None = None
    output_scale: np.ndarray | None = None
    classes: np.ndarray | None = None
    value_shape: tuple = ()
    frame_stride: int = 1
    frame_size: int | None = None
    vocabulary_size: int | None = None

    @property
    def n_features(self) -> int:
        """Features per input step, before frames are stacked."""
        channels = 3 if self.sequence_level else 1
        return self.network.input_size // (self.frame_steps * channels)

    @property
    def frame_steps(self) -> int:
        """Input steps in each network step's frame."""
        return self.frame_stride if self.frame_size is None else self.frame_size

    @property
    def step_features(self) -> int:
        """Features per input step after standardisation, before frames are stacked."""
        return self.network.input_size // self.frame_steps

    @property
    def per_step(self) -> bool:
        return self.network.per_step
