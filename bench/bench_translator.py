"""One training step of the attention encoder-decoder: rnnfast vs PyTorch CPU, side by side.

    python bench/bench_translator.py [--repeats 11]

A step is what ``SequenceTranslator.fit`` runs per mini-batch: the teacher-forced forward of
``nn.EncoderDecoder`` (embeddings, bidirectional encoder, bridge, decoder, general attention,
combine, head), the masked cross-entropy and the backward of every parameter. The torch peer
is the same model written with ``torch.nn`` (``rnnfast.interop.to_torch``: packed LSTMs, the
same formulas), with the same weights; both are checked to give the same
loss and gradients here before timing. Both use all cores (2 on the project machines).

The machine's limit beside the times: the step's matrix-product FLOPs divided by the time,
against this machine's measured SGEMM peak (2048^3, all cores).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch

from rnnfast import config_info, nn
from rnnfast.benchmark import measure_sgemm_peak, median_alternating
from rnnfast.interop import to_torch
from rnnfast.nn.losses import cross_entropy

# (batch, source steps, target steps, source vocabulary, target vocabulary, embedding, hidden)
SHAPES = [
    (32, 25, 11, 60, 16, 32, 64),  # SequenceTranslator's defaults on the dates task
    (64, 40, 40, 1000, 1000, 128, 256),  # a word-level model
]


def batch(rng, b, ts, tt, vs, vt):
    source_lengths = rng.integers(ts // 2, ts + 1, b)
    target_lengths = rng.integers(tt // 2, tt + 1, b)
    source = rng.integers(2, vs, (b, ts))
    source[np.arange(ts)[None, :] >= source_lengths[:, None]] = 0
    target = rng.integers(4, vt, (b, tt))
    target[np.arange(tt)[None, :] >= target_lengths[:, None]] = 0
    target_in = np.concatenate([np.full((b, 1), 2), target[:, :-1]], axis=1)
    target_in[np.arange(tt)[None, :] >= target_lengths[:, None]] = 0
    return source, source_lengths, target_in, target, target_lengths


def step_flops(b, ts, tt, vt, e, h) -> float:
    """Matrix-product FLOPs of forward + backward (backward about twice the forward)."""
    encoder = 2 * ts * b * 2 * (4 * h) * (e + h)  # two directions
    decoder = tt * b * 2 * (4 * h) * (e + h)
    attention = b * tt * ts * 2 * (2 * h) * 2 + b * ts * 2 * (2 * h) * h  # scores, context, W k
    output = b * tt * 2 * (3 * h * h + h * vt)
    return 3 * (encoder + decoder + attention + output)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    peak, _ = measure_sgemm_peak()
    print(
        f"translator training step (forward, masked cross-entropy, backward), LSTM, general "
        f"attention, float32; rnnfast {config_info()['threads']} threads, torch "
        f"{torch.__version__} {torch.get_num_threads()} threads; measured SGEMM peak "
        f"{peak:.1f} GFLOP/s"
    )
    print(
        f"{'B':>3} {'Ts':>3} {'Tt':>3} {'Vt':>5} {'E':>4} {'H':>4} {'rnnfast ms':>10} "
        f"{'torch ms':>9} {'ratio':>6} {'GFLOP/s':>8} {'%peak':>6} {'same':>5}"
    )
    rng = np.random.default_rng(0)
    results = [bench_shape(shape, rng, args.repeats, peak) for shape in SHAPES]
    return 0 if all(results) else 1


def bench_shape(shape, rng, repeats: int, peak: float) -> bool:
    """Check one shape's loss and gradients against torch, time both, print the row."""
    b, ts, tt, vs, vt, e, h = shape
    ours = nn.EncoderDecoder("lstm", vs, vt, e, h, random_state=0)
    theirs = to_torch(ours)  # the same model written with torch.nn, same weights
    source, source_lengths, target_in, target, target_lengths = batch(rng, b, ts, tt, vs, vt)
    valid = target != 0
    tensors = [torch.from_numpy(a) for a in (source, source_lengths, target_in, target_lengths)]
    flat_target = torch.from_numpy(target).reshape(-1)

    def run_ours():
        logits = ours.forward(source, source_lengths, target_in, target_lengths)
        loss, grad_valid = cross_entropy(logits[valid], target[valid])
        grad = np.zeros_like(logits)
        grad[valid] = grad_valid
        ours.backward(grad)
        return loss

    def run_torch():
        theirs.zero_grad()
        logits = theirs(*tensors)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, vt), flat_target, ignore_index=0
        )
        loss.backward()
        return loss.item()

    same = bool(np.isclose(run_ours(), run_torch(), rtol=1e-4))
    grads = dict(theirs.named_parameters())
    same = same and all(
        np.allclose(ours.grads[k], g.grad.numpy(), rtol=1e-3, atol=1e-5) for k, g in grads.items()
    )
    t_ours, t_torch = median_alternating([run_ours, run_torch], repeats)
    gflops = step_flops(b, ts, tt, vt, e, h) / t_ours / 1e9
    print(
        f"{b:>3} {ts:>3} {tt:>3} {vt:>5} {e:>4} {h:>4} {1e3 * t_ours:>10.2f} "
        f"{1e3 * t_torch:>9.2f} {t_ours / t_torch:>6.2f} {gflops:>8.1f} "
        f"{100 * gflops / peak:>5.0f}% {same!s:>5}"
    )
    return same


if __name__ == "__main__":
    raise SystemExit(main())
