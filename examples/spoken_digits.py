"""Speech recognition: spoken digit strings read by a bidirectional LSTM trained with CTC, and
the same model trained by PyTorch for comparison.

    python examples/spoken_digits.py [--seeds 3] [--torch] [--quick]

The corpus is made here, offline: espeak-ng (Debian/Ubuntu package ``espeak-ng``, GPL-3.0-or-
later; ``apt-get install espeak-ng``) speaks random strings of 3-7 digits ("4 0 7 7") in 7
English accents and voice variants at random speeds (130-210 words per minute), pitches and
word gaps, with white noise at 30 dB SNR; each utterance becomes 40 log-mel features per 10 ms
(:func:`rnnfast.data.audio.log_mel_spectrogram`). Nothing marks where a digit starts or ends.
Test utterances are spoken by voice variants that no training utterance uses (unseen
speakers). Metric: label error rate (edit distance over reference length) of best-path
decoding, and the share of whole strings read right.

Both models: 2 frames stacked per step, inputs standardised with training statistics, a
bidirectional LSTM of 64 units per direction (orthogonal recurrent weights, forget-gate bias 1),
a linear layer over 11 outputs (blank + 10 digits), CTC loss with torch's mean reduction, Adam
(lr 0.005), clipping at norm 1, length-bucketed batches of 32, 30 epochs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import wave

import numpy as np
from _cli import example_parser, mean_sd

import rnnfast
from rnnfast.data.audio import log_mel_spectrogram

ACCENTS = [
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-029",
    "en-gb-x-gbcwmd",
]
TRAIN_VARIANTS = [
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "f1",
    "f2",
    "f3",
    "Alex",
    "adam",
    "john",
    "linda",
    "paul",
    "max",
]
TEST_VARIANTS = ["m6", "m7", "f4", "f5", "david", "steph"]
N_TRAIN, N_TEST, EPOCHS, HIDDEN, STRIDE, LEARNING_RATE = 2000, 400, 30, 64, 2, 0.005


def speak(text: str, voice: str, speed: int, pitch: int, gap: int, directory: str) -> np.ndarray:
    """espeak-ng's waveform of ``text`` as float samples at 22050 Hz."""
    path = os.path.join(directory, "utterance.wav")
    subprocess.run(
        [
            "espeak-ng",
            "-v",
            voice,
            "-s",
            str(speed),
            "-p",
            str(pitch),
            "-g",
            str(gap),
            "-w",
            path,
            text,
        ],
        check=True,
        capture_output=True,
    )
    with wave.open(path) as f:
        rate = f.getframerate()
        samples = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16)
    assert rate == 22050, rate
    return samples.astype(np.float64) / 32768.0


def make_corpus(n: int, variants: list[str], seed: int) -> tuple[list[np.ndarray], list[str]]:
    """``n`` utterances of random digit strings: log-mel frames and the digits spoken."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("this example needs espeak-ng: apt-get install espeak-ng")
    rng = np.random.default_rng(seed)
    X, y = [], []
    with tempfile.TemporaryDirectory() as directory:
        for _ in range(n):
            digits = "".join(rng.choice(list("0123456789"), size=rng.integers(3, 8)))
            voice = f"{rng.choice(ACCENTS)}+{rng.choice(variants)}"
            audio = speak(
                " ".join(digits),
                voice,
                speed=int(rng.integers(130, 211)),
                pitch=int(rng.integers(25, 76)),
                gap=int(rng.integers(0, 4)),
                directory=directory,
            )
            noise = rng.standard_normal(audio.size) * np.sqrt(np.mean(audio**2) / 10**3)
            X.append(log_mel_spectrogram(audio + noise, 22050, n_mels=40))
            y.append(digits)
    return X, y


def run(train, test, seed: int, epochs: int) -> dict:
    model = rnnfast.SequenceTranscriber(
        hidden_size=HIDDEN,
        frame_stride=STRIDE,
        learning_rate=LEARNING_RATE,
        max_epochs=epochs,
        random_state=seed,
    )
    start = time.perf_counter()
    model.fit(*train)
    seconds = time.perf_counter() - start
    predicted = model.predict(test[0])
    return {
        "ler": rnnfast.metrics.label_error_rate(test[1], predicted),
        "strings": float(np.mean([p == t for p, t in zip(predicted, test[1], strict=True)])),
        "seconds": seconds,
        "model": model,
    }


def run_torch(train, test, seed: int, epochs: int) -> dict:
    """The same network, initialisation scheme, data pipeline and budget, trained by torch."""
    import torch

    from rnnfast.data.sequences import check_sequences, stack_frames
    from rnnfast.interop import to_torch
    from rnnfast.nn.ctc_decode import ctc_greedy_decode

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    seqs = check_sequences(train[0])
    steps = seqs.values[np.arange(seqs.values.shape[1]) < seqs.lengths[:, None]]
    mean, scale = steps.mean(axis=0), steps.std(axis=0) + 1e-12

    def prepare(X):
        s = check_sequences(X)
        s.values = (s.values - mean) / scale
        s = stack_frames(s, STRIDE)
        return torch.from_numpy(s.values.astype(np.float32)), torch.from_numpy(s.lengths)

    network = rnnfast.nn.SequenceNetwork(
        "lstm", 40 * STRIDE, HIDDEN, 11, bidirectional=True, per_step=True, random_state=seed
    )
    net = to_torch(network)  # orthogonal init + forget bias 1, as the transcriber's
    optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    x_all, len_all = prepare(train[0])
    targets = [torch.tensor([int(d) + 1 for d in text]) for text in train[1]]
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(targets))
        order = order[np.argsort(len_all.numpy()[order], kind="stable")]  # length buckets
        batches = [order[i : i + 32] for i in range(0, len(order), 32)]
        for index in rng.permutation(len(batches)):
            batch = batches[index]
            lengths = len_all[batch]
            out = net(x_all[batch, : int(lengths.max())], lengths)
            log_probs = torch.log_softmax(out, -1).transpose(0, 1)
            rows = [targets[i] for i in batch]
            loss = torch.nn.functional.ctc_loss(
                log_probs, torch.cat(rows), lengths, torch.tensor([len(r) for r in rows])
            )
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
    seconds = time.perf_counter() - start
    x_test, len_test = prepare(test[0])
    with torch.no_grad():
        out = net(x_test, len_test).numpy()
    codes = ctc_greedy_decode(out, len_test.numpy())
    predicted = ["".join(str(c - 1) for c in row) for row in codes]
    return {
        "ler": rnnfast.metrics.label_error_rate(test[1], predicted),
        "strings": float(np.mean([p == t for p, t in zip(predicted, test[1], strict=True)])),
        "seconds": seconds,
    }


def main() -> None:
    parser = example_parser(__doc__, "200 training utterances, 3 epochs: a smoke run")
    parser.add_argument("--torch", action="store_true", help="also train the PyTorch model")
    parser.add_argument("--train", type=int, default=N_TRAIN)
    parser.add_argument("--test", type=int, default=N_TEST)
    args = parser.parse_args()
    n_train, n_test, epochs = (200, 50, 3) if args.quick else (args.train, args.test, EPOCHS)
    start = time.perf_counter()
    train = make_corpus(n_train, TRAIN_VARIANTS, seed=100)
    test = make_corpus(n_test, TEST_VARIANTS, seed=200)
    frames = sum(len(x) for x in train[0])
    print(
        f"corpus: {n_train} training / {n_test} test utterances, {frames} training frames, "
        f"made in {time.perf_counter() - start:.1f} s"
    )
    results = [run(train, test, seed, epochs) for seed in range(args.seeds)]
    print(
        f"rnnfast: label error rate {mean_sd([r['ler'] for r in results])}, strings right "
        f"{mean_sd([r['strings'] for r in results])}, "
        f"{np.mean([r['seconds'] for r in results]):.1f} s to train"
    )
    model = results[0]["model"]
    for text, x in zip(test[1][:5], test[0][:5], strict=True):
        print(f"  said {text:>8}  read {model.predict([x])[0]:>8}")
    if args.torch:
        theirs = [run_torch(train, test, seed, epochs) for seed in range(args.seeds)]
        print(
            f"PyTorch: label error rate {mean_sd([r['ler'] for r in theirs])}, strings right "
            f"{mean_sd([r['strings'] for r in theirs])}, "
            f"{np.mean([r['seconds'] for r in theirs]):.1f} s to train"
        )


if __name__ == "__main__":
    main()
