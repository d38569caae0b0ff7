"""rnnfast: fast CPU recurrent networks (RNN, LSTM, GRU) with a scikit-learn workflow."""

__version__ = "0.1.0"

from rnnfast import nn, optim
from rnnfast._config import config_info, set_num_threads, show_config
from rnnfast.data import SequenceScaler
from rnnfast.estimators import (
    CharRNN,
    RNNAnomalyDetector,
    RNNClassifier,
    RNNForecaster,
    RNNRegressor,
    SequenceTagger,
    TrainingDivergedError,
)

__all__ = [
    "CharRNN",
    "RNNAnomalyDetector",
    "RNNClassifier",
    "RNNForecaster",
    "RNNRegressor",
    "SequenceScaler",
    "SequenceTagger",
    "TrainingDivergedError",
    "__version__",
    "config_info",
    "nn",
    "optim",
    "set_num_threads",
    "show_config",
]
