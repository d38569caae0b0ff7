"""BPTT writes its gate gradients over the forward's saved activations.

So a backward allocates nothing of the size of that cache, and a second backward after the
same forward must first run the forward again: both are checked here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from conftest import CELLS, make_module, state_parts

pytestmark = [pytest.mark.slow, pytest.mark.core]  # see both markers in pyproject.toml


def _grads_of_backward(module, grad, grad_state):
    grad_input, grad_hx = module.backward(grad, grad_state)
    return grad_input, grad_hx, {k: v.copy() for k, v in module.grads.items()}


def _assert_same(first, second):
    np.testing.assert_array_equal(first[0], second[0])
    for a, b in zip(state_parts(first[1]), state_parts(second[1]), strict=True):
        np.testing.assert_array_equal(a, b)
    assert first[2].keys() == second[2].keys()
    for name in first[2]:
        np.testing.assert_array_equal(first[2][name], second[2][name])


@pytest.mark.parametrize("cell", list(CELLS))
def test_second_backward_rebuilds_the_cache_and_repeats_the_first(cell, rng):
    # Dropout, ragged lengths and an initial state: the rebuilt forward must reuse all three.
    module = make_module(
        cell, 3, 4, num_layers=3, bidirectional=True, dropout=0.5, random_state=0, dtype=np.float64
    )
    x = rng.standard_normal((5, 6, 3))
    lengths = np.array([6, 1, 4, 6, 2])
    shape = (6, 5, 4)
    hx = (
        (rng.standard_normal(shape), rng.standard_normal(shape))
        if cell == "lstm"
        else (rng.standard_normal(shape))
    )
    module.forward(x, lengths=lengths, hx=hx)
    grad = rng.standard_normal((5, 6, 8))
    grad_state = (
        (rng.standard_normal(shape), None) if cell == "lstm" else rng.standard_normal(shape)
    )
    first = _grads_of_backward(module, grad, grad_state)
    second = _grads_of_backward(module, grad, grad_state)
    third = _grads_of_backward(module, 2 * grad, None)
    _assert_same(first, second)
    assert not np.array_equal(first[2]["weight_hh_l0"], third[2]["weight_hh_l0"])


@pytest.mark.parametrize("cell", list(CELLS))
def test_second_backward_uses_the_current_weights(cell, rng):
    module = make_module(cell, 3, 4, num_layers=2, random_state=0, dtype=np.float64)
    x, grad = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4))
    module.forward(x)
    module.backward(grad)
    for value in module.params.values():
        value *= 0.5
    after_change = _grads_of_backward(module, grad, None)
    fresh = make_module(cell, 3, 4, num_layers=2, random_state=0, dtype=np.float64)
    fresh.load_state_dict(module.state_dict())
    fresh.forward(x)
    _assert_same(after_change, _grads_of_backward(fresh, grad, None))


@pytest.mark.parametrize("shape", [(1, 6, 3), (4, 1, 3)])  # transposes that need no copy
def test_changing_the_input_after_forward_does_not_change_backward(shape, rng):
    x = rng.standard_normal(shape)
    grad = rng.standard_normal((*shape[:2], 4))
    expected = make_module("gru", 3, 4, random_state=0, dtype=np.float64)
    expected.forward(x.copy())
    module = make_module("gru", 3, 4, random_state=0, dtype=np.float64)
    module.forward(x)
    x[...] = 0  # the caller reuses its buffer before backward
    _assert_same(_grads_of_backward(module, grad, None), _grads_of_backward(expected, grad, None))


_PROBE = r"""
import json, sys
import numpy as np
from conftest import make_module

cell, T, B, I, H = sys.argv[1], *map(int, sys.argv[2:6])
rng = np.random.default_rng(0)
x = rng.standard_normal((B, T, I)).astype(np.float32)
grad = rng.standard_normal((B, T, H)).astype(np.float32)
module = make_module(cell, I, H, random_state=0)
module.forward(x)
module.backward(grad)  # warm-up: thread pools, first-touch of the weights' gradients
module.forward(x)

def status_kib(key):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key))

with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # the peak (VmHWM) restarts from the current RSS
before = status_kib("VmRSS:")
module.backward(grad)
print(json.dumps({"growth_bytes": (status_kib("VmHWM:") - before) * 1024}))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn_tanh"])
def test_backward_allocates_far_less_than_the_gate_cache(cell):
    time, batch, inputs, hidden = 400, 64, 8, 256
    gates = {"gru": 3, "lstm": 4, "rnn_tanh": 1}[cell]
    gate_gradients = time * batch * gates * hidden * 4  # one float32 [T, B, G*H] buffer
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}  # freed blocks leave RSS
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, cell, *map(str, (time, batch, inputs, hidden))],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=os.path.dirname(__file__),
    )
    growth = json.loads(done.stdout.strip().splitlines()[-1])["growth_bytes"]
    # What backward does allocate: dx and the input gradient ([T, B, I] each), the weight
    # gradients and a few [B, H] states: 1.2-2.7 MB measured here, against 26-105 MB of gate
    # gradients (the design before BPTT worked in place needed one or two such buffers).
    assert growth < 0.25 * gate_gradients, (growth, gate_gradients)


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn_tanh"])
@pytest.mark.parametrize("layout", ["one layer", "bidirectional", "two layers"])
def test_backward_needs_no_input_gradient_buffer_of_its_own(cell, layout, rng):
    # dx [T, B, I] takes the memory of the state slots BPTT has finished reading (I <= H), so
    # what backward allocates at its peak is the weight gradients and a few states: before,
    # it was a whole dx buffer more (1.6 MB here, against ~0.2 MB of weight gradients).
    time, batch, inputs, hidden = 200, 32, 64, 64
    kwargs = {
        "bidirectional": layout == "bidirectional",
        "num_layers": 1 + (layout == "two layers"),
    }
    module = make_module(cell, inputs, hidden, random_state=0, **kwargs)
    x = rng.standard_normal((batch, time, inputs)).astype(np.float32)
    grad = rng.standard_normal((batch, time, module.num_directions * hidden)).astype(np.float32)
    tracemalloc.start()  # numpy reports its array allocations to tracemalloc
    try:
        module.forward(x)  # traced too, so that freeing its cache counts
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        module.backward(grad)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    input_gradient = time * batch * inputs * 4
    assert peak - start < 0.5 * input_gradient, (peak - start, input_gradient)


@pytest.mark.parametrize("shape", [(1, 6, 3), (4, 1, 3)])  # transposes that need no copy
def test_input_gradient_is_not_a_view_of_the_cache(shape, rng):
    module = make_module("lstm", 3, 4, random_state=0, dtype=np.float64)
    x, grad = rng.standard_normal(shape), rng.standard_normal((*shape[:2], 4))
    module.forward(x)
    grad_input, _ = module.backward(grad)
    assert grad_input.base is None and grad_input.flags.c_contiguous
    kept = grad_input.copy()
    module.backward(2 * grad)  # rebuilds and consumes the cache again
    np.testing.assert_array_equal(grad_input, kept)
