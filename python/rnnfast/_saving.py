"""The ``save`` method shared by every object :mod:`rnnfast.persistence` can write."""

from __future__ import annotations

from rnnfast.persistence import save


class SaveMixin:
    """Adds :meth:`save`; read the file back with :func:`rnnfast.load`."""

    def save(self, path) -> None:
        """Write this object to ``path`` in rnnfast's pickle-free format.

        Parameters
        ----------
        path : str, os.PathLike or binary file object
            Written as given (no suffix added), atomically for a path.

        See Also
        --------
        rnnfast.load : Read it back; predictions are identical bit for bit.
        rnnfast.persistence : The file format.
        """
        save(self, path)
