"""CTC: the loss and its gradient against torch and finite differences; the decoders against
brute-force enumeration of every alignment; bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from rnnfast.nn.ctc_decode import ctc_beam_decode, ctc_greedy_decode
from rnnfast.nn.losses import ctc_loss, log_softmax

from conftest import central_difference

TOLERANCES = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-12)}


def random_batch(rng, dtype, n=6, time=15, n_classes=5, blank=0, scale=2.0):
    """Logits, ragged input lengths and ragged feasible targets with repeats and length 1."""
    logits = (scale * rng.standard_normal((n, time, n_classes))).astype(dtype)
    lengths = rng.integers(time // 2, time + 1, size=n)
    lengths[0] = time
    labels = [c for c in range(n_classes) if c != blank]
    targets = []
    for i in range(n):
        size = [1, 0][i] if i < 2 else int(rng.integers(1, lengths[i] // 2 + 1))
        targets.append(rng.choice(labels, size=size))
    targets[2] = np.array([labels[0]] * 3)  # repeats need a blank between them
    return logits, targets, lengths


def torch_ctc(logits, targets, lengths, blank=0, reduction="mean", zero_infinity=False):
    x = torch.tensor(logits, requires_grad=True)
    log_probs = torch.log_softmax(x, dim=-1).transpose(0, 1)
    loss = torch.nn.functional.ctc_loss(
        log_probs,
        torch.tensor(np.concatenate(targets).astype(np.int64)),
        torch.tensor(np.asarray(lengths, np.int64)),
        torch.tensor([len(t) for t in targets]),
        blank=blank,
        reduction=reduction,
        zero_infinity=zero_infinity,
    )
    loss.sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("blank", [0, 3], ids=["blank0", "blank3"])
def test_loss_and_gradient_match_torch(dtype, reduction, blank):
    rng = np.random.default_rng(7)
    logits, targets, lengths = random_batch(rng, dtype, blank=blank)
    loss, grad = ctc_loss(logits, targets, lengths, blank=blank, reduction=reduction)
    expected_loss, expected_grad = torch_ctc(logits, targets, lengths, blank, reduction)
    np.testing.assert_allclose(loss, expected_loss, **TOLERANCES[dtype])
    np.testing.assert_allclose(grad, expected_grad, **TOLERANCES[dtype])
    assert grad.dtype == dtype
    past_end = np.arange(logits.shape[1])[None, :] >= lengths[:, None]
    assert not grad[past_end].any()


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_infeasible_targets_match_torch(zero_infinity):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((3, 6, 4))
    # 4 labels with one repeat need 5 steps: infeasible in 4, feasible in 6
    targets = [np.array([1, 1, 2, 3]), np.array([1, 1, 2, 3]), np.array([2])]
    lengths = np.array([4, 6, 1])
    losses, grad = ctc_loss(logits, targets, lengths, reduction="none", zero_infinity=zero_infinity)
    expected_losses, expected_grad = torch_ctc(
        logits, targets, lengths, reduction="none", zero_infinity=zero_infinity
    )
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-9)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-9, atol=1e-12)
    if zero_infinity:
        assert losses[0] == 0 and not grad[0].any()
    else:
        assert losses[0] == np.inf and np.isnan(grad[0, :4]).all()
    assert np.isfinite(losses[1:]).all() and np.isfinite(grad[1:]).all()


def test_gradient_matches_central_differences():
    rng = np.random.default_rng(11)
    logits, targets, lengths = random_batch(rng, np.float64, n=3, time=7, n_classes=4)
    _, grad = ctc_loss(logits, targets, lengths)
    for index in itertools.product(range(3), range(7), range(4)):
        numeric = central_difference(lambda: ctc_loss(logits, targets, lengths)[0], logits, index)
        np.testing.assert_allclose(grad[index], numeric, rtol=1e-6, atol=1e-9)


def test_large_logits_stay_finite():
    """Log-space recursion: no underflow where probabilities fall below float's range."""
    logits = np.zeros((1, 50, 3), np.float32)
    logits[0, :, 0] = 200.0  # blank everywhere by e^200
    loss, grad = ctc_loss(logits, [np.array([1, 2])], reduction="sum")
    expected_loss, expected_grad = torch_ctc(logits, [np.array([1, 2])], [50], reduction="sum")
    assert np.isfinite(loss) and loss > 300
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-4)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- decoders vs brute force
def labelling_probabilities(log_probs: np.ndarray, blank: int) -> dict[tuple, float]:
    """log P(labelling) for every labelling, by enumerating all ``C ** T`` alignments."""
    time, n_classes = log_probs.shape
    totals: dict[tuple, float] = {}
    for path in itertools.product(range(n_classes), repeat=time):
        score = log_probs[np.arange(time), path].sum()
        labels = tuple(c for t, c in enumerate(path) if c != blank and (t == 0 or path[t - 1] != c))
        totals[labels] = np.logaddexp(totals.get(labels, -np.inf), score)
    return totals


@pytest.mark.parametrize("seed", range(6))
def test_decoders_against_enumeration(seed):
    rng = np.random.default_rng(seed)
    blank = seed % 3
    logits = 2 * rng.standard_normal((2, 6, 3))
    lengths = np.array([6, 4])
    for i, length in enumerate(lengths):
        log_probs = log_softmax(logits[i, :length])
        totals = labelling_probabilities(log_probs, blank)
        # the loss of every labelling is minus its enumerated probability
        for labels, log_p in list(totals.items())[:5]:
            loss, _ = ctc_loss(
                logits[i : i + 1, :length], [np.array(labels, int)], reduction="sum", blank=blank
            )
            np.testing.assert_allclose(loss, -log_p, rtol=1e-10)
        # an unbounded beam is exact
        best = max(totals, key=totals.get)
        decoded, scores = ctc_beam_decode(
            logits[i : i + 1], [length], blank, beam_size=10_000, return_scores=True
        )
        assert tuple(decoded[0]) == best
        np.testing.assert_allclose(scores[0], totals[best], rtol=1e-10)
        # best path: the most probable single alignment, collapsed
        path = np.argmax(log_probs, axis=1)
        collapsed = [c for t, c in enumerate(path) if c != blank and (t == 0 or path[t - 1] != c)]
        greedy = ctc_greedy_decode(logits[i : i + 1], [length], blank)[0]
        assert greedy.tolist() == collapsed


def test_small_beam_keeps_the_best_prefixes_only():
    rng = np.random.default_rng(5)
    logits = 3 * rng.standard_normal((20, 8, 4))
    exact = ctc_beam_decode(logits, beam_size=10_000, return_scores=True)[1]
    narrow = ctc_beam_decode(logits, beam_size=2, return_scores=True)[1]
    assert (narrow <= exact + 1e-9).all()  # a narrow beam finds at most the exact optimum


# ---------------------------------------------------------------- bad input
GOOD = dict(logits=np.zeros((2, 5, 4), np.float32), targets=[np.array([1, 2]), np.array([3])])


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(targets=[np.array([0, 1]), np.array([3])]), ValueError, "blank"),
        (dict(targets=[np.array([1, 4]), np.array([3])]), ValueError, r"outside \[0, 4\)"),
        (dict(targets=[np.array([1, -1]), np.array([3])]), ValueError, "outside"),
        (dict(targets=[np.array([1.0, 2.0]), np.array([3])]), TypeError, "integer labels"),
        (dict(targets=[np.array([1])]), ValueError, "one label sequence per sample"),
        (dict(targets="ab"), TypeError, "targets"),
        (dict(targets=[np.array([[1]]), np.array([3])]), ValueError, "1-D"),
        (dict(logits=np.full((2, 5, 4), np.nan)), ValueError, "NaN"),
        (dict(logits=np.zeros((2, 5))), ValueError, "3-D"),
        (dict(logits=np.zeros((2, 5, 4), complex)), TypeError, "real"),
        (dict(logits=np.zeros((2, 0, 4))), ValueError, "at least one"),
        (dict(input_lengths=[5]), ValueError, "input_lengths"),
        (dict(input_lengths=[5, 0]), ValueError, r"\[1, 5\]"),
        (dict(input_lengths=[5, 6]), ValueError, r"\[1, 5\]"),
        (dict(input_lengths=[5.0, 2.0]), TypeError, "input_lengths"),
        (dict(blank=4), ValueError, "blank"),
        (dict(blank=1.0), TypeError, "blank"),
        (dict(reduction="avg"), ValueError, "reduction"),
        (dict(zero_infinity="yes"), TypeError, "zero_infinity"),
    ],
)
def test_bad_input_is_refused(change, error, match):
    with pytest.raises(error, match=match):
        ctc_loss(**{**GOOD, **change})


@pytest.mark.parametrize("decoder", [ctc_greedy_decode, ctc_beam_decode])
def test_decoders_refuse_bad_input(decoder):
    with pytest.raises(ValueError, match="NaN"):
        decoder(np.full((1, 3, 3), np.nan))
    with pytest.raises(ValueError, match="input_lengths"):
        decoder(np.zeros((1, 3, 3)), [4])
    with pytest.raises(ValueError, match="blank"):
        decoder(np.zeros((1, 3, 3)), blank=3)
    if decoder is ctc_beam_decode:
        with pytest.raises(ValueError, match="beam_size"):
            decoder(np.zeros((1, 3, 3)), beam_size=0)


def test_the_bindings_refuse_what_the_python_layer_would_have():
    """The C++ checks behind the validation (out-of-bounds reads if they were missing)."""
    from rnnfast.backends import cpu

    logits = np.zeros((2, 5, 4), np.float32)
    lengths = np.array([5, 5])
    labels, offsets = np.array([1, 2, 3]), np.array([0, 2, 3])
    with pytest.raises(ValueError, match="offsets must start at 0"):
        cpu.ctc_loss(logits, labels, np.array([0, 2, 4]), lengths, 0, False)
    with pytest.raises(ValueError, match="non-decreasing"):
        cpu.ctc_loss(logits, labels, np.array([0, 4, 3]), lengths, 0, False)
    with pytest.raises(ValueError, match="differ from blank"):
        cpu.ctc_loss(logits, np.array([1, 0, 3]), offsets, lengths, 0, False)
    with pytest.raises(ValueError, match=r"input_lengths must be in \[1, time\]"):
        cpu.ctc_loss(logits, labels, offsets, np.array([5, 6]), 0, False)
    with pytest.raises(ValueError, match="blank"):
        cpu.ctc_beam_search(logits, lengths, 2, 4)
    with pytest.raises(ValueError, match="beam_size"):
        cpu.ctc_beam_search(logits, lengths, 0, 0)
