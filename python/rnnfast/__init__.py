"""rnnfast: fast CPU recurrent networks (RNN, LSTM, GRU) with a scikit-learn workflow."""

__version__ = "0.1.0"

from rnnfast import nn
from rnnfast._config import config_info, set_num_threads, show_config

__all__ = ["__version__", "config_info", "nn", "set_num_threads", "show_config"]
