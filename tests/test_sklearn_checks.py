"""scikit-learn's own estimator checks on every estimator with the sklearn contract.

2-D ``X`` means univariate sequences ``(n, time)``, so the checks' tabular data trains real
recurrent networks. The expected failures below follow from that meaning, each with its
reason.
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from rnnfast import RNNClassifier, RNNRegressor, SequenceScaler, SequenceTagger

FAST = dict(hidden_size=8, max_epochs=40, random_state=0)

ESTIMATORS = [
    RNNClassifier(**FAST),
    RNNRegressor(**FAST),
    SequenceTagger(**FAST),
    SequenceScaler(),
]

EXPECTED_FAILURES: dict[str, dict[str, str]] = {}


def expected_failed_checks(estimator) -> dict[str, str]:
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
