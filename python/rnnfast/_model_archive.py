"""Reading the zip archive of a model file as hostile input: every size a file claims is
checked against the bytes it holds before anything of that size is allocated.

A model file is a zip archive of ``.npy`` members (as :func:`numpy.savez` writes it). numpy's
own reader trusts the sizes in a member's header (a claimed shape of ``(10**13,)`` is a
MemoryError) and inflates whatever a member holds (a 1 MB file can hold 1 GiB of zeros).
:class:`ModelArchive` instead

- reads the central directory and every member's ``.npy`` header up front (a few hundred
  bytes each), and refuses a member whose claimed shape and dtype do not add up to exactly
  the bytes the member holds, whose dtype is not a plain number or string type, or that
  expands more than :data:`MAX_EXPANSION` times (rnnfast writes members uncompressed);
- reads a member's data only when the description refers to it, into one buffer of the
  checked size (no second copy);
- refuses members whose compressed sizes add up to more than the file (overlapping members),
  so a file can never make the loader hold more than about :data:`MAX_EXPANSION` times its
  own size.
"""

from __future__ import annotations

import math
import os
import tokenize
import zipfile

import numpy as np
from numpy.lib import format as npy_format

# rnnfast writes members uncompressed; a member compressed by another tool may expand this
# many times (float weights compress by about 1.1x, a zip bomb by about 1000x)
MAX_EXPANSION = 20
_SLACK = 1024  # bytes any member may expand beyond that (a tiny array's header)
_MAX_NPY_HEADER = 10_000  # numpy's own default limit on an .npy header
_ALLOWED_KINDS = "biufU"


class ArchiveError(ValueError):
    """The archive, or one member of it, is not what a model file holds."""


class MemberInfo:
    """What a member's headers claim: shape, dtype and memory order, checked against its size."""

    def __init__(self, info: zipfile.ZipInfo, shape: tuple, dtype: np.dtype, fortran: bool):
        self.zip_info = info
        self.shape = shape
        self.dtype = dtype
        self.fortran = fortran
        self.nbytes = math.prod(shape) * dtype.itemsize


class ModelArchive:
    """A model file opened for checked, lazy reading; use as a context manager."""

    def __init__(self, source) -> None:
        try:
            self._zip = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
            raise ArchiveError(f"not a zip archive ({exc})") from exc
        except NotImplementedError as exc:  # a compression method or zip version zipfile lacks
            raise ArchiveError(f"an unsupported zip archive ({exc})") from exc
        try:
            self._size = _source_size(source)
            self.members = self._read_directory()
        except BaseException:
            self._zip.close()
            raise
        self.read_names: set[str] = set()

    def __enter__(self) -> ModelArchive:
        return self

    def __exit__(self, *exc) -> None:
        self._zip.close()

    def _read_directory(self) -> dict[str, MemberInfo]:
        members = {}
        infos = self._zip.infolist()
        if sum(info.compress_size for info in infos) > self._size:
            raise ArchiveError("members claim more bytes than the file holds")
        for info in infos:
            name = info.filename
            if not name.endswith(".npy") or name[:-4] in members:
                raise ArchiveError(f"member {name!r} is not a (unique) .npy array")
            if info.file_size > MAX_EXPANSION * info.compress_size + _SLACK:
                raise ArchiveError(
                    f"member {name!r} expands {info.file_size} bytes from {info.compress_size} "
                    f"(more than {MAX_EXPANSION}x: not a file rnnfast wrote)"
                )
            members[name[:-4]] = self._member_info(info)
        return members

    def _member_info(self, info: zipfile.ZipInfo) -> MemberInfo:
        name = info.filename
        try:
            with self._zip.open(info) as stream:
                version = npy_format.read_magic(stream)
                if version == (1, 0):
                    shape, fortran, dtype = npy_format.read_array_header_1_0(
                        stream, max_header_size=_MAX_NPY_HEADER
                    )
                elif version == (2, 0):
                    shape, fortran, dtype = npy_format.read_array_header_2_0(
                        stream, max_header_size=_MAX_NPY_HEADER
                    )
                else:
                    raise ArchiveError(f"member {name!r} has .npy version {version}")
                header_bytes = stream.tell()
        except ArchiveError:
            raise
        except (
            ValueError,
            zipfile.BadZipFile,
            EOFError,
            OSError,
            SyntaxError,  # numpy parses the header's dict literal...
            tokenize.TokenError,  # ...with Python's tokenizer (an unclosed bracket)
            NotImplementedError,  # a compression method or zip version zipfile lacks
        ) as exc:
            raise ArchiveError(f"member {name!r} has no readable .npy header ({exc})") from exc
        if dtype.hasobject or dtype.fields is not None or dtype.kind not in _ALLOWED_KINDS:
            raise ArchiveError(f"member {name!r} has dtype {dtype}, not a number or string type")
        member = MemberInfo(info, tuple(shape), dtype, bool(fortran))
        if member.nbytes != info.file_size - header_bytes:
            raise ArchiveError(
                f"member {name!r} claims shape {member.shape} of {dtype} "
                f"({member.nbytes} bytes) but holds {info.file_size - header_bytes} bytes"
            )
        return member

    def read(self, name: str) -> np.ndarray:
        """The member's array, writable, read into one buffer of its checked size."""
        member = self.members.get(name)
        if member is None:
            raise ArchiveError(f"missing array member {name!r}")
        buffer = bytearray(member.nbytes)
        try:
            with self._zip.open(member.zip_info) as stream:
                stream.seek(member.zip_info.file_size - member.nbytes)
                view = memoryview(buffer)
                filled = 0
                while filled < member.nbytes:
                    got = stream.readinto(view[filled:])
                    if not got:
                        raise ArchiveError(f"member {name!r} ends early")
                    filled += got
                stream.read(1)  # reaching the end checks the CRC
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
            if isinstance(exc, ArchiveError):
                raise
            raise ArchiveError(f"member {name!r} is corrupted ({exc})") from exc
        self.read_names.add(name)
        array = np.frombuffer(buffer, member.dtype)
        order = "F" if member.fortran else "C"
        array = array.reshape(member.shape, order=order)
        return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def _source_size(source) -> int:
    if hasattr(source, "seek"):
        position = source.tell()
        size = source.seek(0, os.SEEK_END)
        source.seek(position)
        return size
    return os.path.getsize(source)
