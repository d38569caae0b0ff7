"""Character-level text generation on Python's own help texts (``pydoc_data.topics``, shipped
with Python), and the same model trained by PyTorch for comparison.

    python examples/text_generation.py [--seeds 3] [--torch] [--quick]

The last 10% of the corpus is held out; both models see the same training characters for the
same number of epochs, in mini-batches of 32 pieces of 64 characters, with Adam (lr 0.005),
gradient clipping at norm 1, a 1-layer LSTM of 128 units with orthogonal recurrent weights and
forget-gate bias 1. Metric: bits per character on the held-out text (lower is better; state
carried across the whole text).
"""

from __future__ import annotations

import time

import numpy as np
from _cli import example_parser, mean_sd

import rnnfast
from rnnfast.datasets import load_python_docs

TRAIN_CHARS, EPOCHS, HELD_OUT_CHARS = 300_000, 5, 20_000
HIDDEN, SEQ_LENGTH, BATCH, LEARNING_RATE = 128, 64, 32, 0.005


def corpus(quick: bool = False):
    """(training text, held-out text); the held-out keeps only characters seen in training."""
    text = load_python_docs()
    split = int(0.9 * len(text))
    n_train = 30_000 if quick else TRAIN_CHARS
    train = text[split - n_train : split]
    known = set(train)
    held_out = "".join(ch for ch in text[split:] if ch in known)
    return train, held_out[: 3_000 if quick else HELD_OUT_CHARS]


def run(seed: int, quick: bool = False) -> dict:
    train, held_out = corpus(quick)
    model = rnnfast.CharRNN(
        hidden_size=HIDDEN,
        seq_length=SEQ_LENGTH,
        batch_size=BATCH,
        learning_rate=LEARNING_RATE,
        max_epochs=1 if quick else EPOCHS,
        random_state=seed,
    )
    start = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - start
    return {
        "bpc": model.bits_per_char(held_out),
        "seconds": seconds,
        "sample": model.generate("The ", 200, temperature=0.7, random_state=seed),
        "model": model,
    }


def run_torch(seed: int, quick: bool = False) -> dict:
    """The same network, initialisation scheme, data and budget, trained by torch."""
    import torch

    from rnnfast.interop import to_torch

    torch.manual_seed(seed)
    train, held_out = corpus(quick)
    vocabulary = sorted(set(train))
    index = {ch: i for i, ch in enumerate(vocabulary)}
    codes = torch.tensor([index[ch] for ch in train])
    n = (len(codes) - 1) // SEQ_LENGTH
    pieces = codes[: n * SEQ_LENGTH + 1].unfold(0, SEQ_LENGTH + 1, SEQ_LENGTH)[:n]
    eye = torch.eye(len(vocabulary))
    network = rnnfast.nn.SequenceNetwork(
        "lstm", len(vocabulary), HIDDEN, len(vocabulary), per_step=True, random_state=seed
    )
    module = to_torch(network)  # orthogonal init + forget bias 1, as CharRNN's
    optimizer = torch.optim.Adam(module.parameters(), lr=LEARNING_RATE)
    start = time.perf_counter()
    for _ in range(1 if quick else EPOCHS):
        for batch in torch.randperm(n).split(BATCH):
            inputs, targets = pieces[batch, :-1], pieces[batch, 1:]
            logits = module(eye[inputs])
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, len(vocabulary)), targets.reshape(-1)
            )
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
            optimizer.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        held = torch.tensor([index[ch] for ch in held_out])
        output, _ = module.recurrent(eye[held[:-1]][None])
        log_p = torch.log_softmax(module.head(output[0]).double(), dim=-1)
        bpc = -log_p[torch.arange(len(held) - 1), held[1:]].mean().item() / np.log(2)
    return {"bpc": bpc, "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    parser = example_parser(__doc__, "a small, 1-epoch run")
    parser.add_argument("--torch", action="store_true", help="also train the PyTorch LSTM")
    args = parser.parse_args(argv)
    ours = [run(seed, args.quick) for seed in range(args.seeds)]
    bpcs = [r["bpc"] for r in ours]
    print(
        f"rnnfast CharRNN: held-out bits per char {mean_sd(bpcs)} "
        f"(training {np.mean([r['seconds'] for r in ours]):.1f} s per run)"
    )
    print(f"sample: The {ours[0]['sample']!r}")
    if args.torch:
        theirs = [run_torch(seed, args.quick) for seed in range(args.seeds)]
        torch_bpcs = [r["bpc"] for r in theirs]
        print(
            f"PyTorch LSTM:    held-out bits per char {mean_sd(torch_bpcs)} (training "
            f"{np.mean([r['seconds'] for r in theirs]):.1f} s per run)"
        )
        print(f"ratio rnnfast / torch bits per char: {np.mean(bpcs) / np.mean(torch_bpcs):.3f}")


if __name__ == "__main__":
    main()
