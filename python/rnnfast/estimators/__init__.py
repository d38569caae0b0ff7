"""scikit-learn estimators over the ``rnnfast.nn`` networks."""

from rnnfast.estimators._training import TrainingDivergedError
from rnnfast.estimators.classifier import RNNClassifier
from rnnfast.estimators.regressor import RNNRegressor
from rnnfast.estimators.tagger import SequenceTagger

__all__ = ["RNNClassifier", "RNNRegressor", "SequenceTagger", "TrainingDivergedError"]
