"""Running rnnfast on a Dask cluster without oversubscribing its cores.

Estimators need nothing special under Dask: they pickle, and joblib's ``"dask"`` backend runs
scikit-learn's searches on the cluster::

    from dask.distributed import Client
    import joblib
    client = Client("tcp://scheduler:8786")
    rnnfast.dask.limit_worker_threads(client)      # 1 compute thread per task
    with joblib.parallel_config(backend="dask"):
        search.fit(X, y)                            # GridSearchCV(..., n_jobs=-1)

Each Dask worker runs ``nthreads`` tasks at once, and each rnnfast fit would by default use
every core of the machine: :func:`limit_worker_threads` caps rnnfast's threads per task in every
worker process (Dask's nanny also sets ``OMP_NUM_THREADS=1`` in the workers it starts, which
rnnfast honours; the plugin makes the bound explicit and holds without a nanny too).

``pip install 'rnnfast[dask]'`` installs ``dask[distributed]``.
"""

from __future__ import annotations

try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError as exc:  # pragma: no cover - dask is in the test extra
    raise ImportError("rnnfast.dask needs dask.distributed: pip install 'rnnfast[dask]'") from exc

from rnnfast._validation import check_positive_int

__all__ = ["ThreadLimit", "limit_worker_threads"]


class ThreadLimit(WorkerPlugin):
    """Worker plugin: cap rnnfast's compute threads per task in each worker process.

    Parameters
    ----------
    threads_per_task : int, default 1
        Threads one rnnfast call may use; a worker running ``nthreads`` tasks then uses at
        most ``nthreads * threads_per_task`` cores.
    """

    name = "rnnfast-thread-limit"

    def __init__(self, threads_per_task: int = 1) -> None:
        self.threads_per_task = check_positive_int(threads_per_task, "threads_per_task")

    def setup(self, worker) -> None:
        """Apply the limit on ``worker`` (Dask calls this when the plugin is registered).

        Parameters
        ----------
        worker : distributed.Worker
            The worker starting the plugin.
        """
        import rnnfast

        rnnfast.set_num_threads(self.threads_per_task)


def limit_worker_threads(client, threads_per_task: int = 1) -> None:
    """Register :class:`ThreadLimit` on every current and future worker of ``client``.

    Parameters
    ----------
    client : distributed.Client
        The cluster's client.
    threads_per_task : int, default 1
        Threads each task's rnnfast calls may use.
    """
    client.register_plugin(ThreadLimit(threads_per_task))
