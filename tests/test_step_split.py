"""The two ways a layer shares its time loop among threads (csrc/core/step_split.h): by rows
of the batch, or by hidden units with a barrier per step (small batches). Each is forced here
on shapes the automatic choice would give the other, and both must give the same numbers bit
for bit (each output is one FMA chain, whichever thread computes it), in inference, in a
training forward and in the gradients computed from its cache."""

from __future__ import annotations

import os

try:
    import resource
except ImportError:  # not on Windows
    resource = None

import numpy as np
import pytest

import rnnfast
from rnnfast import nn
from rnnfast.backends import cpu

RNG = np.random.default_rng(0)
CELLS = {"rnn_tanh": nn.RNN, "rnn_relu": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@pytest.fixture
def two_threads():
    before = rnnfast.config_info()["threads"]
    rnnfast.set_num_threads(2)
    yield
    rnnfast.set_num_threads(before)
    cpu.set_step_split("auto")


def run(module, x, lengths, grad, split: str):
    cpu.set_step_split(split)
    try:
        inference = module.forward(x, lengths, training=False)
        outputs, state = module.forward(x, lengths, training=True)
        grad_x = module.backward(grad)[0]
        grads = {name: g.copy() for name, g in module.grads.items()}
    finally:
        cpu.set_step_split("auto")
    return inference, outputs, state, grad_x, grads


@pytest.mark.usefixtures("two_threads")
@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("batch", "hidden"),
    [(1, 96), (3, 70), (2, 13), (40, 64)],
    ids=["b1-h96", "b3-h70", "b2-h13", "b40-h64"],
)
def test_rows_and_columns_give_identical_results(cell, dtype, batch, hidden):
    kwargs = {"nonlinearity": cell[4:]} if cell.startswith("rnn") else {}
    module = CELLS[cell](
        5, hidden, num_layers=2, bidirectional=True, dtype=dtype, random_state=1, **kwargs
    )
    x = RNG.standard_normal((batch, 9, 5)).astype(dtype)
    lengths = RNG.integers(1, 10, size=batch)
    lengths[0] = 9
    grad = RNG.standard_normal((batch, 9, 2 * hidden)).astype(dtype)
    by_rows = run(module, x, lengths, grad, "rows")
    by_columns = run(module, x, lengths, grad, "columns")

    def arrays(result):
        inference, outputs, state, grad_x, _ = result
        flat = [inference[0], *np.atleast_1d(inference[1]), outputs, *np.atleast_1d(state)]
        return [*flat, grad_x]

    for a, b in zip(arrays(by_rows), arrays(by_columns), strict=True):
        np.testing.assert_array_equal(a, b)
    for name, g in by_rows[4].items():
        np.testing.assert_array_equal(g, by_columns[4][name], err_msg=name)


@pytest.mark.usefixtures("two_threads")
def test_the_automatic_choice_follows_batch_and_the_bytes_of_w_hh():
    # Batches up to 4 split by columns; training beyond them by rows (on 2 threads, from
    # batch 8: see the next test); inference at batches 5-16 by columns where W_hh outgrows
    # the threshold (each core's L2 on Intel CPUs, 4x it on AMD's Zen 5, none elsewhere);
    # larger batches by rows.
    huge, small = 1 << 40, 1 << 10
    assert cpu.step_split_for(2, 256, small, training=True) == "columns"
    assert cpu.step_split_for(8, 256, huge, training=True) == "rows"
    assert cpu.step_split_for(8, 256, small, training=False) == "rows"
    assert cpu.step_split_for(32, 1024, huge, training=False) == "rows"
    assert cpu.step_split_for(8, 16, huge, training=False) == "rows"  # too few units to share
    limit = cpu.column_split_bytes()
    beyond = "rows" if limit is None else "columns"
    assert cpu.step_split_for(8, 1024, huge, training=False) == beyond
    assert cpu.step_split_for(16, 1024, huge, training=False) == beyond
    assert cpu.step_split_for(17, 1024, huge, training=False) == "rows"
    if limit is not None:
        assert cpu.step_split_for(8, 1024, limit, training=False) == "rows"
        assert cpu.step_split_for(8, 1024, limit + 1, training=False) == "columns"
    cpu.set_step_split("rows")
    assert cpu.step_split_for(2, 256, small, training=True) == "rows"  # forcing wins


@pytest.mark.usefixtures("two_threads")
def test_batches_the_row_split_would_run_on_one_thread_split_by_columns():
    # A row split's slice takes at least 4 rows: on 2 threads batches 5-7 would run on one
    # thread. They split by columns where each thread gets a full panel's 64 units and W_hh
    # takes 192 KiB (inference), or W_hh takes 512 KiB (training); the rows' single thread
    # otherwise.
    infer_bytes, train_bytes = 192 << 10, 512 << 10
    for batch in (5, 6, 7):
        assert cpu.step_split_for(batch, 128, infer_bytes, training=False) == "columns"
        assert cpu.step_split_for(batch, 128, infer_bytes - 1, training=False) == "rows"
        assert cpu.step_split_for(batch, 64, infer_bytes, training=False) == "rows"
        assert cpu.step_split_for(batch, 256, train_bytes, training=True) == "columns"
        assert cpu.step_split_for(batch, 256, train_bytes - 1, training=True) == "rows"
    assert cpu.step_split_for(8, 128, infer_bytes, training=False) == "rows"  # a slice each
    assert cpu.step_split_for(8, 256, train_bytes, training=True) == "rows"
    rnnfast.set_num_threads(4)  # now batches up to 15 leave a thread idle
    assert cpu.step_split_for(12, 256, infer_bytes, training=False) == "columns"
    assert cpu.step_split_for(12, 128, infer_bytes, training=False) == "rows"  # 32 units each
    assert cpu.step_split_for(17, 1024, train_bytes, training=True) == "rows"


def test_forcing_a_split_is_checked():
    with pytest.raises(ValueError, match="split must be one of"):
        cpu.set_step_split("diagonal")
    assert cpu.set_step_split("auto") == "auto"


def test_layer_buffers_are_pooled_between_calls_and_released_on_request():
    module = nn.LSTM(7, 300, random_state=0)  # packed W_hh alone is 1.4 MiB
    x = RNG.standard_normal((2, 5, 7)).astype(np.float32)
    rnnfast.release_workspaces()
    assert cpu.cached_workspace_bytes() == 0
    first = module.forward(x, training=False)[0]
    pooled = cpu.cached_workspace_bytes()
    assert pooled >= 4 * 300 * 300 * 4  # the packed W_hh came back to the pool
    # the next call reuses those buffers (nothing new is kept) and computes the same
    np.testing.assert_array_equal(module.forward(x, training=False)[0], first)
    assert cpu.cached_workspace_bytes() == pooled
    assert rnnfast.release_workspaces() == pooled
    assert cpu.cached_workspace_bytes() == 0


def test_large_float_arrays_come_from_the_pool_and_go_back_to_it():
    rnnfast.release_workspaces()
    small = cpu.empty((10, 10), np.float32)
    assert small.base is None  # numpy's own memory
    large = cpu.zeros((512, 1024), np.float32)  # 2 MiB
    assert large.flags.c_contiguous and large.flags.writeable and not large.any()
    assert cpu.cached_workspace_bytes() == 0
    del large
    assert cpu.cached_workspace_bytes() >= 2 << 20  # back in the pool, not to the system
    assert cpu.empty((512, 1024), np.float64).dtype == np.float64
    for shape, message in (([-1, 2], "negative"), ([2**40, 2**40], "too large")):
        with pytest.raises(ValueError, match=message):
            cpu._core.pooled_empty_float32(shape)
    rnnfast.release_workspaces()


@pytest.mark.skipif(resource is None, reason="counts page faults with the resource module")
def test_a_training_step_takes_its_large_buffers_from_the_pool():
    # The gates cache (52 MB here) is above glibc's largest mmap threshold, and the output and
    # gradients land in a heap whose top glibc trims: every step faulted in thousands of fresh
    # pages (an LSTM at T = 20, B = 256, H = 1024: 5,300-5,900 a step). From the pool: none.
    module = nn.LSTM(64, 512, random_state=0)
    x = RNG.standard_normal((128, 50, 64)).astype(np.float32)
    grad = RNG.standard_normal((128, 50, 512)).astype(np.float32)

    def step():
        module.forward(x)
        module.backward(grad)

    step()
    step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 64, faults  # the buffers take 90 MB: 22,000 pages of 4 KiB


def test_a_team_of_more_threads_than_cores_gives_the_same_bits():
    # The column split's threads meet at a spinning barrier every step (parallel.h): with
    # more threads than cores, a waiting thread must yield its core to the one it waits for,
    # or a step would take a scheduler time slice. Every thread count gives the same bits.
    module = nn.LSTM(7, 256, random_state=2)
    x = RNG.standard_normal((2, 40, 7)).astype(np.float32)
    before = rnnfast.config_info()["threads"]
    try:
        cpu.set_step_split("columns")
        results = {}
        for threads in (1, 2, 4 * (os.cpu_count() or 1)):
            rnnfast.set_num_threads(threads)
            results[threads] = module.forward(x, training=False)[0]
    finally:
        cpu.set_step_split("auto")
        rnnfast.set_num_threads(before)
    for threads, output in results.items():
        np.testing.assert_array_equal(output, results[1], err_msg=f"{threads} threads")
