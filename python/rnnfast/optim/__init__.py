"""Optimizers, learning-rate schedules and gradient clipping for ``rnnfast.nn`` parameters."""

from rnnfast.optim.clipping import clip_grad_norm, clip_grad_value, global_norm
from rnnfast.optim.optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, make_optimizer
from rnnfast.optim.schedules import (
    ConstantLR,
    CosineLR,
    ExponentialLR,
    LRSchedule,
    ReduceLROnPlateau,
    StepLR,
    make_schedule,
)

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "ConstantLR",
    "CosineLR",
    "ExponentialLR",
    "LRSchedule",
    "Optimizer",
    "RMSprop",
    "ReduceLROnPlateau",
    "StepLR",
    "clip_grad_norm",
    "clip_grad_value",
    "global_norm",
    "make_optimizer",
    "make_schedule",
]
