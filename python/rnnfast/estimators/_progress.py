"""The ``verbose=2`` display within an epoch: one line showing epoch k/N, the running mean of
the batch losses so far, batches per second, elapsed and remaining time.

Through ``tqdm`` when it is installed (``tqdm.auto``: a widget in Jupyter, text in a terminal),
else a plain line of the same content. Either redraws at most every :data:`MIN_INTERVAL`
seconds (the first and last batch always) and clears its line when the epoch ends, so the
epoch's summary line (``verbose >= 1``) is printed on a clean line.
"""

from __future__ import annotations

import sys
import time

MIN_INTERVAL = 0.25  # seconds between redraws: a few updates per second at most


def epoch_progress(epoch: int, epochs: int, batches: int):
    """Open the display of one epoch.

    Parameters
    ----------
    epoch, epochs : int
        The epoch (from 1) and how many this fit runs.
    batches : int
        Mini-batches in the epoch.

    Returns
    -------
    object
        With ``update(running_loss)`` after each batch and ``close()`` at the end.
    """
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _PlainProgress(epoch, epochs, batches, sys.stdout)
    return _TqdmProgress(tqdm, epoch, epochs, batches)


class _TqdmProgress:
    def __init__(self, tqdm, epoch: int, epochs: int, batches: int) -> None:
        self._bar = tqdm(
            total=batches,
            desc=f"epoch {epoch}/{epochs}",
            unit="batch",
            leave=False,  # the epoch line replaces it
            mininterval=MIN_INTERVAL,
            ascii=True,
            dynamic_ncols=True,
            file=sys.stdout,
        )

    def update(self, running_loss: float) -> None:
        self._bar.set_postfix_str(f"loss {running_loss:.4f}", refresh=False)
        self._bar.update(1)
        if self._bar.n == self._bar.total:
            self._bar.refresh()  # the finished epoch is always shown, however fast it ran

    def close(self) -> None:
        self._bar.close()


class _PlainProgress:
    _WIDTH = 20  # characters of the bar

    def __init__(self, epoch: int, epochs: int, batches: int, stream) -> None:
        self._label = f"epoch {epoch}/{epochs}"
        self._batches = batches
        self._stream = stream
        self._started = time.perf_counter()
        self._drawn_at = -float("inf")
        self._done = 0
        self._shown = 0  # characters of the line on screen, to clear it

    def update(self, running_loss: float) -> None:
        self._done += 1
        now = time.perf_counter()
        last = self._done == self._batches
        if not (self._done == 1 or last or now - self._drawn_at >= MIN_INTERVAL):
            return
        self._drawn_at = now
        elapsed = now - self._started
        rate = self._done / elapsed if elapsed > 0 else float("inf")
        remaining = (self._batches - self._done) / rate if rate > 0 else 0.0
        filled = self._WIDTH * self._done // self._batches
        line = (
            f"{self._label} [{'#' * filled}{'-' * (self._WIDTH - filled)}] "
            f"{self._done}/{self._batches} loss {running_loss:.4f} {rate:.1f} batch/s "
            f"{_clock(elapsed)}<{_clock(remaining)}"
        )
        self._stream.write("\r" + line.ljust(self._shown))
        self._shown = len(line)
        self._stream.flush()

    def close(self) -> None:
        if self._shown:
            self._stream.write("\r" + " " * self._shown + "\r")
            self._stream.flush()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes:02d}:{seconds:02d}"
