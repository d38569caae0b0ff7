"""Derive the float32 tanh of ``csrc/core/activations.h`` and check it as float32 computes it.

    python bench/micro/fit_tanh.py

tanh(x) = x * P(x^2) / Q(x^2) on [-8, 8] (clamped beyond, then +-1 exactly from 9.0109, where
float32's tanh rounds to 1), P of degree 5 and Q of degree 3 in x^2, both with constant term 1
so that tanh(x) = x to the last bit for tiny x. The fit minimises the largest relative error:
linearised least squares (x P - tanh(x) Q = 0, weighted by 1 / (tanh(x) Q) from the previous
iterate), then Lawson's reweighting toward the minimax solution. The check evaluates the
coefficients, rounded to float32, with float32 Horner steps (no fused multiply-add, as the
baseline CPU level does) over two million points of [-12, 12] and prints the largest relative
error, which the C++ comment and ``tests/test_numerics.py`` state, and the largest |tanh|, which
must not pass 1.
"""

from __future__ import annotations

import numpy as np

CLAMP = 8.0
SATURATED = 9.0109  # 1 - tanh(x) < 2**-25 from here: float32 rounds tanh to 1
P_TERMS, Q_TERMS = 6, 4  # coefficients of P and Q in z = x^2, constant terms included


def fit(iterations: int = 60) -> tuple[np.ndarray, np.ndarray, float]:
    """Coefficients of P and Q (lowest power first) and their relative error in float64."""
    x = np.concatenate([np.linspace(1e-4, CLAMP, 20000), np.geomspace(1e-6, 1e-1, 2000)])
    x.sort()
    z, target = x * x, np.tanh(x)
    scale = CLAMP ** (2 * np.arange(max(P_TERMS, Q_TERMS)))  # keeps the columns comparable
    p_columns = np.stack([z**k / scale[k] for k in range(P_TERMS)], axis=1)
    q_columns = np.stack([z**k / scale[k] for k in range(1, Q_TERMS)], axis=1)
    weights, q_value = np.ones_like(x), np.ones_like(x)
    for _ in range(iterations):
        rows = np.concatenate([x[:, None] * p_columns, -target[:, None] * q_columns], axis=1)
        rows /= (target * q_value)[:, None]
        rhs = 1 / q_value
        root = np.sqrt(weights)
        solution, *_ = np.linalg.lstsq(rows * root[:, None], rhs * root, rcond=None)
        p = solution[:P_TERMS] / scale[:P_TERMS]
        q = np.concatenate([[1.0], solution[P_TERMS:] / scale[1:Q_TERMS]])
        q_value = np.polyval(q[::-1], z)
        error = (x * np.polyval(p[::-1], z) / q_value - target) / target
        weights *= np.abs(error)
        weights /= weights.sum()
    return p, q, float(np.abs(error).max())


def tanh_float32(x: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The C++ function, step by step in float32."""
    x = x.astype(np.float32)
    clamped = np.clip(x, np.float32(-CLAMP), np.float32(CLAMP))
    z = clamped * clamped
    numerator = np.float32(p[-1])
    for c in p[-2::-1]:
        numerator = numerator * z + np.float32(c)
    denominator = np.float32(q[-1])
    for c in q[-2::-1]:
        denominator = denominator * z + np.float32(c)
    rational = (clamped * numerator) / denominator
    return np.where(np.abs(x) < np.float32(SATURATED), rational, np.sign(x).astype(np.float32))


def main() -> None:
    p, q, error = fit()
    print(f"fit on [0, {CLAMP}]: relative error {error:.2g} (float64)")
    print("P:", ", ".join(f"{np.float32(c):.9e}" for c in p))
    print("Q:", ", ".join(f"{np.float32(c):.9e}" for c in q))
    x = np.linspace(-12, 12, 2_000_001).astype(np.float32)
    exact = np.tanh(x.astype(np.float64))
    y = tanh_float32(x, p, q)
    nonzero = exact != 0
    relative = np.abs(y[nonzero] - exact[nonzero]) / np.abs(exact[nonzero])
    print(f"float32: largest relative error {relative.max():.2g}, largest |tanh| {np.abs(y).max()}")


if __name__ == "__main__":
    main()
