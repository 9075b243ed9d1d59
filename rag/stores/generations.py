"""An index folder's generations: which entries are its own to remove, and readers' leases that keep one in use."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from pathlib import Path

# the names this index gives its own entries: nothing else in its folder is ever removed
GENERATION_NAME = re.compile(r"gen-\d{8}-\d{6}-[0-9a-f]{8}")
_OWN_LEFTOVER = re.compile(r"\.(gen-\d{8}-\d{6}-[0-9a-f]{8}|manifest\.json\.[0-9a-f]{8})\.tmp")


def remove_leftovers(directory: Path, keep: str) -> None:
    """Remove this index's older generations and the staging files of interrupted writes; nothing else.

    Only names of the shapes policy-rag gives are touched (``gen-<date>-<time>-<8 hex>``, their staging folders,
    a manifest's temporary file): a user's ``gen-results/`` or ``report.docx.tmp`` beside them stays.
    A generation a reader still holds (see :class:`GenerationLease`) is left for a later commit to remove.
    """
    for old in directory.iterdir():
        if old.name == keep or not (GENERATION_NAME.fullmatch(old.name) or _OWN_LEFTOVER.fullmatch(old.name)):
            continue
        if old.is_symlink() or not old.is_dir():
            old.unlink(missing_ok=True)
            continue
        try:
            fd = os.open(old, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a reader is using it
            os.close(fd)
            continue
        try:
            shutil.rmtree(old, ignore_errors=True)
        finally:
            os.close(fd)


class GenerationLease:
    """A reader's shared lock on a generation folder: while one is held, no commit removes the folder.

    Readers open their stores' files lazily (a letter segment on the first hit from it), so the folder must
    outlive the commit that replaces it, as Lucene keeps a commit point while a reader uses it. The lock is
    an ``flock`` on the folder, released by :meth:`release` or when the process ends (a killed reader leaves
    nothing behind).
    """

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def take(cls, folder: Path) -> GenerationLease | None:
        """A lease on ``folder``, or None when it is gone or being removed (read the manifest again)."""
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            opened, there = os.fstat(fd), os.stat(folder, follow_symlinks=False)
            if (opened.st_dev, opened.st_ino) != (there.st_dev, there.st_ino):
                raise FileNotFoundError(folder)
        except OSError:  # removed meanwhile, or a writer is removing it now
            os.close(fd)
            return None
        return cls(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.release()
