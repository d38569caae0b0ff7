"""Translation of names: English to German names of languages, territories, currencies and
scripts from the Unicode CLDR locale data, by SequenceTranslator and by the same model trained
with PyTorch.

    python examples/cldr_translation.py [--seeds 3] [--torch]

The corpus is ``rnnfast.datasets.load_cldr_names("en", "de")`` (about 1,400 pairs such as
"Arabic" -> "Arabisch", "South America" -> "Südamerika"; CLDR data shipped by Babel, Unicode
licence). 20% of the pairs, drawn with the seed, are held out. Metrics on them: chrF
(:func:`rnnfast.metrics.chrf`, character 6-grams, beta 2) and exact match, greedy decoding.

Both models: characters as tokens, embeddings of 32, a bidirectional LSTM encoder of 64 units
per direction, an LSTM decoder of 64 started from the encoder's final state through a tanh
layer, general attention on the decoder states, Adam (lr 0.005), clipping at norm 1, batches of
32, 30 epochs: SequenceTranslator's defaults. The PyTorch model is ``rnnfast.interop.to_torch``
of an untrained ``nn.EncoderDecoder`` (the same initialisation scheme), trained by a plain
torch loop (uniformly shuffled batches, where rnnfast buckets them by length).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.model_selection import train_test_split

from rnnfast import SequenceTranslator, TextSequencer, nn
from rnnfast.datasets import load_cldr_names
from rnnfast.metrics import chrf

EPOCHS, BATCH, LEARNING_RATE = 30, 32, 0.005


def split(seed: int):
    names = load_cldr_names("en", "de")
    return train_test_split(names.data, names.target, test_size=0.2, random_state=seed)


def run_rnnfast(seed: int) -> dict:
    train_x, test_x, train_y, test_y = split(seed)
    started = time.perf_counter()
    model = SequenceTranslator(random_state=seed).fit(train_x, train_y)
    seconds = time.perf_counter() - started
    predicted = model.predict(test_x)
    return scores("rnnfast", test_y, predicted, seconds)


def scores(name, references, predicted, seconds) -> dict:
    exact = np.mean([p == r for p, r in zip(predicted, references, strict=True)])
    return dict(model=name, chrf=chrf(references, predicted), exact=float(exact), seconds=seconds)


def run_torch(seed: int) -> dict:
    import torch

    torch.manual_seed(seed)
    train_x, test_x, train_y, test_y = split(seed)
    source = TextSequencer(analyzer="char", lowercase=False).fit(train_x)
    target = TextSequencer(analyzer="char", lowercase=False).fit(train_y)
    # target ids as SequenceTranslator numbers them: 0 padding, 2 start, 3 end, tokens from 4
    module = nn.EncoderDecoder("lstm", source.n_tokens_, target.n_tokens_ + 2, 32, 64)
    from rnnfast.interop import to_torch

    net = to_torch(module)
    optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    sources = source.transform(train_x)
    targets = [t + 2 for t in target.transform(train_y)]
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    for _ in range(EPOCHS):
        order = rng.permutation(len(sources))
        for begin in range(0, len(order), BATCH):
            rows = order[begin : begin + BATCH]
            src, src_len = _padded([sources[i] for i in rows])
            tgt_in, tgt_len = _padded([np.concatenate([[2], targets[i]]) for i in rows])
            tgt_out, _ = _padded([np.concatenate([targets[i], [3]]) for i in rows])
            logits = net(src, src_len, tgt_in, tgt_len)
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=0
            )
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
    seconds = time.perf_counter() - started
    tokens = target.get_feature_names_out()
    predicted = []
    with torch.no_grad():
        for text in test_x:
            src, src_len = _padded(source.transform([text]))
            ids = [2]
            for _ in range(2 * max(len(t) for t in train_y) + 2):  # greedy, prefix re-run
                step, _ = _padded([np.array(ids)])
                logits = net(src, src_len, step, None)
                ids.append(int(logits[0, -1].argmax()))
                if ids[-1] == 3:
                    break
            predicted.append("".join(tokens[i - 2] for i in ids[1:] if i >= 4))
    return scores("PyTorch", test_y, predicted, seconds)


def _padded(rows):
    import torch

    lengths = np.array([len(r) for r in rows])
    out = np.zeros((len(rows), lengths.max()), np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return torch.from_numpy(out), torch.from_numpy(lengths)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--torch", action="store_true", help="also train the PyTorch model")
    args = parser.parse_args(argv)
    runs = [run_rnnfast] + ([run_torch] if args.torch else [])
    print(f"{'model':>8} {'seed':>4} {'chrF':>6} {'exact':>6} {'fit s':>6}")
    for seed in range(args.seeds):
        for run in runs:
            r = run(seed)
            print(
                f"{r['model']:>8} {seed:>4} {r['chrf']:6.1f} {r['exact']:6.3f} {r['seconds']:6.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
