"""``verbose=2`` on a real terminal: the bar shows epoch k/N, the running mean loss (not a
sum that grows through the epoch), batches per second, elapsed and remaining time, and is
cleared before each epoch line. Run in a pseudo-terminal, through tqdm and through the plain
fallback, and read back as a terminal would render it."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time

import pytest

SCRIPT = """
import sys
if sys.argv[1] == "plain":
    sys.modules["tqdm"] = None  # as if tqdm were not installed
import numpy as np
import rnnfast
try:
    from rnnfast.estimators import _progress
    _progress.MIN_INTERVAL = 0.0  # draw every batch, so every running value is seen
except ImportError:  # a version without the throttled display draws every batch anyway
    pass
rng = np.random.default_rng(0)
X = rng.standard_normal((400, 12, 2)).astype(np.float32)
y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
clf = rnnfast.RNNClassifier(hidden_size=16, batch_size=20, max_epochs=2, verbose=2,
                            random_state=0).fit(X, y)
print("LOSSES", *clf.loss_curve_, flush=True)
"""


def run_in_terminal(kind: str) -> str:
    """The script's output as bytes a terminal would receive, decoded."""
    leader, follower = pty.openpty()
    # a terminal 120 columns wide (a new pseudo-terminal has no size, and tqdm draws nothing
    # in 0 columns)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    env = dict(os.environ, COLUMNS="120", TERM="xterm")
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, kind], stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    chunks, deadline = [], time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=60) == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    return b"".join(chunks).decode()


def render(stream: str) -> list[str]:
    """The lines left on screen: carriage returns, clears and cursor-up applied."""
    lines, row, col = [""], 0, 0
    for token in re.findall(r"\x1b\[[0-9;]*[A-Za-z]|\r|\n|[^\x1b\r\n]+", stream):
        if token == "\r":
            col = 0
        elif token == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        elif token.startswith("\x1b["):
            if token.endswith("A"):
                row = max(0, row - int(token[2:-1] or 1))
            elif token.endswith("K"):
                lines[row] = lines[row][:col]
        else:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + token + line[col + len(token) :]
            col += len(token)
    return [line.rstrip() for line in lines if line.strip()]


@pytest.mark.parametrize("kind", ["tqdm", "plain"])
def test_the_bar_shows_the_running_mean_and_leaves_clean_epoch_lines(kind):
    if kind == "tqdm":
        pytest.importorskip("tqdm")
    stream = run_in_terminal(kind)
    screen = render(stream)
    losses = [float(v) for v in screen[-1].split()[1:]]
    assert screen[-1].startswith("LOSSES") and len(losses) == 2

    # what the user sees at the end: the two epoch lines, nothing of the bars
    assert [line.split()[:2] for line in screen[:-1]] == [["epoch", "1"], ["epoch", "2"]]
    assert all("batch" not in line and "[" not in line for line in screen[:-1])

    # while epoch 1 runs its bar says "epoch 1/2", its rate and times, and a running mean
    first_epoch = stream.split("epoch    1")[0]
    assert "epoch 1/2" in first_epoch and "batch/s" in first_epoch
    assert re.search(r"\d\d:\d\d<\d\d:\d\d", first_epoch)
    shown = [float(v) for v in re.findall(r"loss (\d+\.\d+)", first_epoch)]
    assert len(shown) >= 10  # 20 batches, every one drawn
    # a mean of batch losses stays near the epoch's mean from the first batch on; the old
    # display (a growing sum over the data set size) started near 1/20 of it
    assert all(0.5 * losses[0] < value < 2 * losses[0] for value in shown)
    assert shown[-1] == pytest.approx(losses[0], abs=1e-4)
