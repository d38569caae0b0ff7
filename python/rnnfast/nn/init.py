"""Parameter initialisers: torch's default, Glorot/Xavier, orthogonal, and the LSTM forget bias."""

from __future__ import annotations

import numbers

import numpy as np

INIT_SCHEMES = ("orthogonal", "xavier", "torch")


def as_generator(random_state) -> np.random.Generator:
    """A numpy Generator from None, a non-negative int, a Generator or a legacy RandomState."""
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return np.random.default_rng(int(random_state))
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    raise TypeError(
        f"random_state must be None, an int or a numpy Generator, got {type(random_state).__name__}"
    )


def torch_default_uniform(
    rng: np.random.Generator, shape: tuple[int, ...], fan: int, dtype: np.dtype
) -> np.ndarray:
    """``U(-1/sqrt(fan), 1/sqrt(fan))``: torch's default for recurrent tensors (fan = hidden)
    and for ``Linear`` (fan = in_features)."""
    bound = 1.0 / np.sqrt(fan)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def xavier_uniform(rng: np.random.Generator, fan_out: int, fan_in: int) -> np.ndarray:
    """Glorot & Bengio (2010): ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``."""
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(fan_out, fan_in))


def orthogonal(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random orthogonal ``(size, size)`` matrix, uniform over the group (Saxe et al. 2014).

    QR of a Gaussian matrix, with the signs of R's diagonal folded into Q so that the result
    is Haar-distributed rather than biased by the QR convention.
    """
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    return q * np.sign(np.diag(r))


def initialize_recurrent(
    stack, scheme: str, forget_bias: float | None, rng: np.random.Generator
) -> None:
    """Re-initialise a recurrent stack's parameters in place.

    Parameters
    ----------
    stack : rnnfast.nn.RecurrentStack
    scheme : {"orthogonal", "xavier", "torch"}
        ``"orthogonal"``: each gate's block of ``weight_hh`` orthogonal, ``weight_ih`` blocks
        Glorot-uniform, biases zero (Keras's recurrent default). ``"xavier"``: every weight
        block Glorot-uniform, biases zero. ``"torch"``: keep torch's ``U(-1/sqrt(H), 1/sqrt(H))``.
    forget_bias : float or None
        For LSTM, the forget gate's total bias (``bias_ih`` gets it, ``bias_hh`` zero); 1.0
        (Jozefowicz et al. 2015) helps gradients flow early in training. None leaves the scheme's
        biases. Other cells have no forget gate and ignore it.
    rng : numpy.random.Generator
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"init must be one of {INIT_SCHEMES}, got {scheme!r}")
    hidden, gates = stack.hidden_size, stack._gates
    for name, value in stack.params.items():
        if scheme == "torch":
            continue
        if name.startswith("bias"):
            value[...] = 0
            continue
        for g in range(gates):
            block = value[g * hidden : (g + 1) * hidden]
            if scheme == "orthogonal" and name.startswith("weight_hh"):
                block[...] = orthogonal(rng, hidden)
            else:
                block[...] = xavier_uniform(rng, hidden, block.shape[1])
    if forget_bias is not None and stack._has_cell_state:
        for name, value in stack.params.items():
            if name.startswith("bias"):
                # gate order i, f, g, o: the forget gate is the second block
                value[hidden : 2 * hidden] = forget_bias if name.startswith("bias_ih") else 0
