"""scikit-learn estimators over the ``rnnfast.nn`` networks."""

from rnnfast.estimators._training import TrainingDivergedError
from rnnfast.estimators.anomaly import RNNAnomalyDetector
from rnnfast.estimators.char_rnn import CharRNN
from rnnfast.estimators.classifier import RNNClassifier
from rnnfast.estimators.forecaster import RNNForecaster
from rnnfast.estimators.regressor import RNNRegressor
from rnnfast.estimators.tagger import SequenceTagger
from rnnfast.estimators.transcriber import SequenceTranscriber
from rnnfast.estimators.translator import SequenceTranslator

__all__ = [
    "CharRNN",
    "RNNAnomalyDetector",
    "RNNClassifier",
    "RNNForecaster",
    "RNNRegressor",
    "SequenceTagger",
    "SequenceTranscriber",
    "SequenceTranslator",
    "TrainingDivergedError",
]
