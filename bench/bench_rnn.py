"""rnnfast vs PyTorch CPU, side by side in one process: ``python bench/bench_rnn.py [--quick]``.

The benchmark itself is :mod:`rnnfast.benchmark`, so an installed rnnfast runs it as
``rnnfast bench`` too.
"""

from rnnfast.benchmark import main

if __name__ == "__main__":
    raise SystemExit(main())
