"""First-order optimizers that update a dict of numpy parameter arrays in place.

Each follows the update rule of the ``torch.optim`` class of the same name (defaults included),
so hyperparameters carry over. Usage::

    opt = Adam(module.params, learning_rate=1e-3)
    module.forward(x); module.backward(grad)
    opt.step(module.grads)
"""

from __future__ import annotations

import numpy as np

from rnnfast._docstrings import fill_docstrings
from rnnfast._validation import check_number
from rnnfast.persistence import persistable

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "make_optimizer"]


# Parameter entries the optimizers share (``%(params)s`` and ``%(weight_decay)s``).
_DOCS = {
    "params": """\
params : dict of str to ndarray
    The live arrays to update (e.g. ``module.params``).""",
    "weight_decay": """\
weight_decay : float, default 0
    L2 penalty, added to every gradient as ``weight_decay * w``.""",
}


def _documented(cls: type) -> type:
    return fill_docstrings(cls, _DOCS)


@persistable()
@_documented
class Optimizer:
    """Base class: holds the parameters, the learning rate and per-parameter state.

    Parameters
    ----------
    %(params)s
    learning_rate : float
        Step size; schedules change it between steps through the attribute.
    weight_decay : float, default 0
        L2 penalty ``weight_decay / 2 * |w|^2``, added to every gradient as ``weight_decay * w``
        (decoupled from the gradient in :class:`AdamW`).
    """

    _saved_attributes = frozenset({"params", "learning_rate", "weight_decay", "state", "steps"})

    def __init__(self, params: dict, learning_rate: float, weight_decay: float = 0.0) -> None:
        if not isinstance(params, dict) or not params:
            raise TypeError("params must be a non-empty dict of name -> numpy array")
        self.params = params
        self.learning_rate = check_number(learning_rate, "learning_rate", 0, include_low=False)
        self.weight_decay = check_number(weight_decay, "weight_decay", 0)
        self.state: dict[str, dict[str, np.ndarray]] = {name: {} for name in params}
        self.steps = 0

    def _check_loaded_state(self) -> None:
        """Called by :func:`rnnfast.load`: one state buffer set per parameter, each buffer of
        its parameter's shape and dtype, and hyperparameters in range."""
        if not isinstance(self.params, dict) or not all(
            isinstance(p, np.ndarray) for p in self.params.values()
        ):
            raise TypeError("the optimizer's params must be a dict of arrays")
        if not isinstance(self.state, dict) or set(self.state) != set(self.params):
            raise ValueError("the optimizer's state does not match its params")
        for name, buffers in self.state.items():
            param = self.params[name]
            if not isinstance(buffers, dict) or not all(
                isinstance(b, np.ndarray) and b.shape == param.shape and b.dtype == param.dtype
                for b in buffers.values()
            ):
                raise ValueError(f"the optimizer's state for {name!r} does not match the parameter")
        check_number(self.learning_rate, "learning_rate", 0, include_low=False)
        check_number(self.weight_decay, "weight_decay", 0)
        check_number(self.steps, "steps", 0, integer=True)

    def step(self, grads: dict) -> None:
        """Apply one update.

        Parameters
        ----------
        grads : dict of str to ndarray
            Gradients with the keys and shapes of ``params``.
        """
        if grads is None or set(grads) != set(self.params):
            raise ValueError("grads must have exactly the keys of params")
        self.steps += 1
        for name, param in self.params.items():
            grad = grads[name]
            if grad.shape != param.shape:
                raise ValueError(f"grads[{name!r}] has shape {grad.shape}, expected {param.shape}")
            self._update(param, self._decayed(param, grad), self.state[name])

    def _decayed(self, param: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return grad + self.weight_decay * param if self.weight_decay else grad

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Return copies of the step count, learning rate and per-parameter buffers.

        Returns
        -------
        dict
            ``{"steps", "learning_rate", "state"}``, for :meth:`load_state_dict`.
        """
        return {
            "steps": self.steps,
            "learning_rate": self.learning_rate,
            "state": {n: {k: v.copy() for k, v in s.items()} for n, s in self.state.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (copies are taken).

        Parameters
        ----------
        state : dict
            As :meth:`state_dict` returns it.
        """
        self.steps = int(state["steps"])
        self.learning_rate = float(state["learning_rate"])
        self.state = {n: {k: v.copy() for k, v in s.items()} for n, s in state["state"].items()}


@persistable()
@_documented
class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum.

    ``b = momentum * b + g`` (``b = g`` on the first step); the update direction is ``b``, or
    ``g + momentum * b`` with Nesterov; ``w -= learning_rate * direction``.

    Parameters
    ----------
    %(params)s
    learning_rate : float, default 0.01
        Step size; schedules change it between steps through the attribute.
    momentum : float in [0, 1), default 0
        Momentum factor; 0 is plain gradient descent.
    nesterov : bool, default False
        Nesterov momentum (needs ``momentum > 0``).
    %(weight_decay)s
    """

    _saved_attributes = Optimizer._saved_attributes | {"momentum", "nesterov"}

    def __init__(
        self,
        params: dict,
        learning_rate: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, learning_rate, weight_decay)
        self.momentum = check_number(momentum, "momentum", 0, 1)
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.nesterov = bool(nesterov)

    def _update(self, param, grad, state):
        direction = grad
        if self.momentum:
            if "momentum" not in state:
                state["momentum"] = grad.copy()
            else:
                state["momentum"] *= self.momentum
                state["momentum"] += grad
            buf = state["momentum"]
            direction = grad + self.momentum * buf if self.nesterov else buf
        param -= self.learning_rate * direction


@persistable()
@_documented
class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction.

    ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``.

    Parameters
    ----------
    %(params)s
    learning_rate : float, default 0.001
        Step size; schedules change it between steps through the attribute.
    betas : (float, float), default (0.9, 0.999)
        Decay rates ``b1``, ``b2`` of the moment estimates, each in [0, 1).
    eps : float, default 1e-8
        Added to the denominator.
    %(weight_decay)s
    """

    _decoupled = False

    _saved_attributes = Optimizer._saved_attributes | {"betas", "eps"}

    def __init__(
        self,
        params: dict,
        learning_rate: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, learning_rate, weight_decay)
        self.betas = (
            check_number(betas[0], "betas[0]", 0, 1),
            check_number(betas[1], "betas[1]", 0, 1),
        )
        self.eps = check_number(eps, "eps", 0)

    def _decayed(self, param, grad):
        if self._decoupled:
            param *= 1 - self.learning_rate * self.weight_decay
            return grad
        return super()._decayed(param, grad)

    def _update(self, param, grad, state):
        b1, b2 = self.betas
        m = state.setdefault("m", np.zeros_like(param))
        v = state.setdefault("v", np.zeros_like(param))
        m *= b1
        m += (1 - b1) * grad
        v *= b2
        v += (1 - b2) * grad * grad
        m_hat = m / (1 - b1**self.steps)
        v_hat = v / (1 - b2**self.steps)
        param -= self.learning_rate * m_hat / (np.sqrt(v_hat) + self.eps)


@persistable()
@_documented
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): ``w *= 1 - lr * wd`` first.

    Parameters
    ----------
    %(params)s
    learning_rate : float, default 0.001
        Step size; schedules change it between steps through the attribute.
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the moment estimates, each in [0, 1).
    eps : float, default 1e-8
        Added to the denominator.
    weight_decay : float, default 0.01
        Decoupled decay rate (0.01 as in torch).
    """

    _decoupled = True

    def __init__(
        self,
        params: dict,
        learning_rate: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(params, learning_rate, betas, eps, weight_decay)


@persistable()
@_documented
class RMSprop(Optimizer):
    """RMSprop (Hinton 2012): ``v = a v + (1-a) g^2``, ``w -= lr * g / (sqrt(v) + eps)``.

    Parameters
    ----------
    %(params)s
    learning_rate : float, default 0.01
        Step size; schedules change it between steps through the attribute.
    alpha : float in [0, 1), default 0.99
        Decay rate ``a`` of the squared-gradient average.
    eps : float, default 1e-8
        Added to the denominator.
    %(weight_decay)s
    """

    _saved_attributes = Optimizer._saved_attributes | {"alpha", "eps"}

    def __init__(
        self,
        params: dict,
        learning_rate: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, learning_rate, weight_decay)
        self.alpha = check_number(alpha, "alpha", 0, 1)
        self.eps = check_number(eps, "eps", 0)

    def _update(self, param, grad, state):
        v = state.setdefault("square_avg", np.zeros_like(param))
        v *= self.alpha
        v += (1 - self.alpha) * grad * grad
        param -= self.learning_rate * grad / (np.sqrt(v) + self.eps)


@persistable()
@_documented
class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011): ``s += g^2``, ``w -= lr * g / (sqrt(s) + eps)``.

    Parameters
    ----------
    %(params)s
    learning_rate : float, default 0.01
        Step size; schedules change it between steps through the attribute.
    eps : float, default 1e-10
        Added to the denominator.
    %(weight_decay)s
    """

    _saved_attributes = Optimizer._saved_attributes | {"eps"}

    def __init__(
        self,
        params: dict,
        learning_rate: float = 0.01,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, learning_rate, weight_decay)
        self.eps = check_number(eps, "eps", 0)

    def _update(self, param, grad, state):
        s = state.setdefault("sum", np.zeros_like(param))
        s += grad * grad
        param -= self.learning_rate * grad / (np.sqrt(s) + self.eps)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def make_optimizer(
    name: str,
    params: dict,
    learning_rate: float,
    *,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    nesterov: bool = False,
) -> Optimizer:
    """Build an optimizer by name.

    Parameters
    ----------
    name : {"sgd", "adam", "adamw", "rmsprop", "adagrad"}
        The optimizer.
    params : dict of str to ndarray
        The live arrays to update.
    learning_rate : float
        Step size.
    weight_decay : float, default 0
        An L2 penalty for every optimizer except ``"adamw"``, where it is decoupled.
    momentum : float, default 0.9
        Momentum of ``"sgd"`` (ignored by the others).
    nesterov : bool, default False
        Nesterov momentum for ``"sgd"`` (ignored by the others).

    Returns
    -------
    Optimizer
        The optimizer.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    if name == "sgd":
        return SGD(params, learning_rate, momentum, nesterov, weight_decay)
    return OPTIMIZERS[name](params, learning_rate, weight_decay=weight_decay)
