"""rnnfast: fast CPU recurrent networks (RNN, LSTM, GRU) with a scikit-learn workflow."""

from rnnfast import callbacks, metrics, nn, optim
from rnnfast._config import config_info, release_workspaces, set_num_threads, show_config
from rnnfast._version import __version__
from rnnfast.data import SequenceScaler, TextSequencer
from rnnfast.estimators import (
    CharRNN,
    RNNAnomalyDetector,
    RNNClassifier,
    RNNForecaster,
    RNNRegressor,
    SequenceTagger,
    SequenceTranscriber,
    SequenceTranslator,
    TrainingDivergedError,
)
from rnnfast.persistence import ModelFileError, load, save

__all__ = [
    "CharRNN",
    "ModelFileError",
    "RNNAnomalyDetector",
    "RNNClassifier",
    "RNNForecaster",
    "RNNRegressor",
    "SequenceScaler",
    "SequenceTagger",
    "SequenceTranscriber",
    "SequenceTranslator",
    "TextSequencer",
    "TrainingDivergedError",
    "__version__",
    "callbacks",
    "config_info",
    "load",
    "metrics",
    "nn",
    "optim",
    "release_workspaces",
    "save",
    "set_num_threads",
    "show_config",
]
