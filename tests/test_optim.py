"""Optimizers, schedules and clipping against hand-computed updates and their formulas.

Each optimizer test recomputes the update rule independently in float64 for three steps
(so momentum buffers and bias corrections are exercised), and the same steps are checked
against torch.optim as a second reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnfast import optim

GRADS = [np.array([0.5, -1.0, 2.0]), np.array([-0.3, 0.2, 1.0]), np.array([1.5, 0.0, -0.7])]
START = np.array([1.0, -2.0, 0.5])


def run(optimizer_cls, **kwargs):
    params = {"w": START.copy()}
    opt = optimizer_cls(params, **kwargs)
    history = []
    for g in GRADS:
        opt.step({"w": g.copy()})
        history.append(params["w"].copy())
    return history


def by_hand(rule):
    """Apply ``rule(w, g, state, t)`` -> new w for the three gradients."""
    w, state, history = START.copy(), {}, []
    for t, g in enumerate(GRADS, 1):
        w = rule(w, g.copy(), state, t)
        history.append(w.copy())
    return history


def sgd_rule(lr, momentum=0.0, nesterov=False, wd=0.0):
    def rule(w, g, state, t):
        g = g + wd * w
        if momentum:
            state["b"] = g if t == 1 else momentum * state["b"] + g
            g = g + momentum * state["b"] if nesterov else state["b"]
        return w - lr * g

    return rule


def adam_rule(lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, decoupled=False):
    def rule(w, g, state, t):
        if decoupled:
            w = w * (1 - lr * wd)
        else:
            g = g + wd * w
        state["m"] = b1 * state.get("m", 0) + (1 - b1) * g
        state["v"] = b2 * state.get("v", 0) + (1 - b2) * g * g
        m_hat = state["m"] / (1 - b1**t)
        v_hat = state["v"] / (1 - b2**t)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps)

    return rule


def rmsprop_rule(lr, alpha=0.99, eps=1e-8, wd=0.0):
    def rule(w, g, state, t):
        g = g + wd * w
        state["v"] = alpha * state.get("v", 0) + (1 - alpha) * g * g
        return w - lr * g / (np.sqrt(state["v"]) + eps)

    return rule


def adagrad_rule(lr, eps=1e-10, wd=0.0):
    def rule(w, g, state, t):
        g = g + wd * w
        state["s"] = state.get("s", 0) + g * g
        return w - lr * g / (np.sqrt(state["s"]) + eps)

    return rule


CASES = {
    "sgd": (optim.SGD, dict(learning_rate=0.1), sgd_rule(0.1), ("SGD", dict(lr=0.1))),
    "sgd_momentum_wd": (
        optim.SGD,
        dict(learning_rate=0.1, momentum=0.9, weight_decay=0.01),
        sgd_rule(0.1, 0.9, wd=0.01),
        ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ),
    "sgd_nesterov": (
        optim.SGD,
        dict(learning_rate=0.1, momentum=0.8, nesterov=True),
        sgd_rule(0.1, 0.8, nesterov=True),
        ("SGD", dict(lr=0.1, momentum=0.8, nesterov=True)),
    ),
    "adam": (optim.Adam, dict(learning_rate=0.01), adam_rule(0.01), ("Adam", dict(lr=0.01))),
    "adam_l2": (
        optim.Adam,
        dict(learning_rate=0.01, weight_decay=0.1),
        adam_rule(0.01, wd=0.1),
        ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ),
    "adamw": (
        optim.AdamW,
        dict(learning_rate=0.01, weight_decay=0.1),
        adam_rule(0.01, wd=0.1, decoupled=True),
        ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ),
    "rmsprop": (
        optim.RMSprop,
        dict(learning_rate=0.01, weight_decay=0.05),
        rmsprop_rule(0.01, wd=0.05),
        ("RMSprop", dict(lr=0.01, weight_decay=0.05)),
    ),
    "adagrad": (
        optim.Adagrad,
        dict(learning_rate=0.1),
        adagrad_rule(0.1),
        ("Adagrad", dict(lr=0.1)),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_update_rule_by_hand(case):
    cls, kwargs, rule, _ = CASES[case]
    for ours, expected in zip(run(cls, **kwargs), by_hand(rule), strict=True):
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", list(CASES))
def test_update_rule_matches_torch(case):
    cls, kwargs, _, (torch_name, torch_kwargs) = CASES[case]
    w = torch.tensor(START.copy(), requires_grad=True)
    opt = getattr(torch.optim, torch_name)([w], **torch_kwargs)
    for ours, g in zip(run(cls, **kwargs), GRADS, strict=True):
        w.grad = torch.tensor(g.copy())
        opt.step()
        np.testing.assert_allclose(ours, w.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_optimizer_updates_in_place_and_checks_grads():
    w = START.copy()
    opt = optim.Adam({"w": w}, learning_rate=0.1)
    opt.step({"w": np.ones(3)})
    assert not np.array_equal(w, START)  # the caller's array itself moved
    with pytest.raises(ValueError, match="keys"):
        opt.step({"v": np.ones(3)})
    with pytest.raises(ValueError, match="shape"):
        opt.step({"w": np.ones(4)})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(learning_rate=0), "learning_rate"),
        (dict(learning_rate=-1), "learning_rate"),
        (dict(learning_rate=float("nan")), "learning_rate"),
        (dict(learning_rate=0.1, momentum=1.0), "momentum"),
        (dict(learning_rate=0.1, weight_decay=-1), "weight_decay"),
        (dict(learning_rate=0.1, nesterov=True), "nesterov"),
    ],
)
def test_optimizer_rejects_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optim.SGD({"w": START.copy()}, **kwargs)


def test_make_optimizer_names():
    for name, cls in [
        ("sgd", optim.SGD),
        ("adam", optim.Adam),
        ("adamw", optim.AdamW),
        ("rmsprop", optim.RMSprop),
        ("adagrad", optim.Adagrad),
    ]:
        assert type(optim.make_optimizer(name, {"w": START.copy()}, 0.1)) is cls
    with pytest.raises(ValueError, match="optimizer must be one of"):
        optim.make_optimizer("lbfgs", {"w": START.copy()}, 0.1)


# ---------------------------------------------------------------- clipping
def test_clip_grad_norm_scales_to_max_norm():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0], [4.0]])}  # global norm 5
    norm = optim.clip_grad_norm(grads, 1.0)
    assert norm == pytest.approx(5.0)
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(grads["a"], [3 * scale, 0])
    np.testing.assert_allclose(grads["b"], [[0], [4 * scale]])
    assert optim.global_norm(grads) == pytest.approx(1.0, rel=1e-6)


def test_clip_grad_norm_leaves_small_gradients():
    grads = {"a": np.array([0.3, 0.4])}
    assert optim.clip_grad_norm(grads, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(grads["a"], [0.3, 0.4])


def test_clip_grad_value():
    grads = {"a": np.array([-3.0, 0.5, 2.0])}
    optim.clip_grad_value(grads, 1.0)
    np.testing.assert_array_equal(grads["a"], [-1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="clip_value"):
        optim.clip_grad_value(grads, 0)


def test_clip_grad_norm_reports_non_finite():
    grads = {"a": np.array([np.nan, 1.0])}
    assert not math.isfinite(optim.clip_grad_norm(grads, 1.0))


# ---------------------------------------------------------------- schedules
def rates(schedule_cls, epochs=12, metrics=None, base=0.1, **kwargs):
    opt = optim.SGD({"w": START.copy()}, learning_rate=base)
    schedule = schedule_cls(opt, **kwargs)
    out = [opt.learning_rate]
    for e in range(1, epochs):
        out.append(schedule.step(None if metrics is None else metrics[e - 1]))
        assert opt.learning_rate == out[-1]
    return np.array(out)


def test_constant():
    np.testing.assert_allclose(rates(optim.ConstantLR), 0.1)


def test_step():
    expected = [0.1 * 0.5 ** (e // 4) for e in range(12)]
    np.testing.assert_allclose(rates(optim.StepLR, step_size=4, gamma=0.5), expected)


def test_exponential():
    expected = [0.1 * 0.9**e for e in range(12)]
    np.testing.assert_allclose(rates(optim.ExponentialLR, gamma=0.9), expected)


def test_cosine():
    T, low = 10, 0.01
    expected = [low + (0.1 - low) * (1 + math.cos(math.pi * min(e, T) / T)) / 2 for e in range(12)]
    np.testing.assert_allclose(rates(optim.CosineLR, total_epochs=T, min_lr=low), expected)


def test_warmup_then_schedule():
    w = 3
    expected = [0.1 * (e + 1) / (w + 1) for e in range(w)] + [0.1 * 0.9**e for e in range(9)]
    np.testing.assert_allclose(rates(optim.ExponentialLR, gamma=0.9, warmup_epochs=w), expected)


def test_reduce_on_plateau():
    # improves for 3 epochs, then flat: after patience=2 extra bad epochs the rate halves
    metrics = [1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7, 0.7]
    got = rates(optim.ReduceLROnPlateau, metrics=metrics, factor=0.5, patience=2)
    # epoch e's rate comes after seeing metrics[:e]; bad epochs: metrics[3], [4], [5] -> cut
    # after the third bad one (> patience), then counting restarts: [6], [7], [8] -> cut again
    expected = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025]
    np.testing.assert_allclose(got, expected)


def test_reduce_on_plateau_needs_metric_and_respects_min_lr():
    opt = optim.SGD({"w": START.copy()}, learning_rate=0.1)
    schedule = optim.ReduceLROnPlateau(opt, factor=0.1, patience=0, min_lr=0.05)
    with pytest.raises(ValueError, match="metric"):
        schedule.step()
    for _ in range(5):
        schedule.step(1.0)
    assert opt.learning_rate == 0.05


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (optim.StepLR, dict(step_size=0), "step_size"),
        (optim.ExponentialLR, dict(gamma=0), "gamma"),
        (optim.CosineLR, dict(total_epochs=0), "total_epochs"),
        (optim.ReduceLROnPlateau, dict(factor=1.5), "factor"),
        (optim.ConstantLR, dict(warmup_epochs=-1), "warmup_epochs"),
    ],
)
def test_schedule_rejects_bad_arguments(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(optim.SGD({"w": START.copy()}, learning_rate=0.1), **kwargs)


def test_make_schedule_rejects_unknown_names_and_params():
    opt = optim.SGD({"w": START.copy()}, learning_rate=0.1)
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        optim.make_schedule("linear", opt, 10)
    with pytest.raises(ValueError, match="lr_schedule_params"):
        optim.make_schedule("step", opt, 10, {"bogus": 1})
