"""All-or-nothing output files: the target path only ever holds a finished export.

An export can fail or be interrupted half-way (server error, Ctrl-C in the notebook, a cancelled task).
Writing straight to the target would leave a truncated file that looks like a complete one, and could
destroy the previous good copy. So the data goes to a hidden temporary file next to the target (the same
directory, hence the same filesystem, so the final rename is atomic), and only ``commit`` moves it into
place after flushing it to disk.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import Self


class TargetExistsError(FileExistsError):
    """The export target already exists and ``overwrite=True`` was not given."""

    def __init__(self, path: Path) -> None:
        self.message = f"{path} already exists; pass overwrite=True to replace it"
        super().__init__(errno.EEXIST, self.message, str(path))

    def __str__(self) -> str:
        return self.message


class AtomicFile:
    """A temporary file in the target's directory that is renamed onto the target on ``commit``.

    ``open`` creates the temporary file (``temp_path``) for a writer to fill; ``commit`` fsyncs it and
    moves it onto the target; ``abort`` deletes it. Both are idempotent once either has run. Used as a
    context manager it commits on a clean exit and aborts on any exception, including ``KeyboardInterrupt``
    and ``asyncio.CancelledError``.

    Args:
        target: the final path.
        overwrite: replace an existing target. Without it an existing target raises ``TargetExistsError``
            in ``open`` (before anything is written) and, should one appear meanwhile, in ``commit``.
    """

    def __init__(self, target: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self.target = Path(target)
        self.overwrite = overwrite
        self._temp: Path | None = None
        self._finished = False

    @property
    def temp_path(self) -> Path:
        """The temporary file to write to; only valid between ``open`` and ``commit``/``abort``."""
        if self._temp is None or self._finished:
            raise RuntimeError("AtomicFile is not open")
        return self._temp

    def open(self) -> Path:
        """Check the target and create the empty temporary file; return its path.

        Raises:
            TargetExistsError: the target exists and ``overwrite`` is false.
            FileNotFoundError: the target's directory does not exist.
        """
        if self._temp is not None:
            raise RuntimeError("AtomicFile.open() called twice")
        if not self.overwrite and self.target.exists():
            raise TargetExistsError(self.target)
        for _ in range(100):
            candidate = self.target.with_name(f".{self.target.name}.{secrets.token_hex(4)}.tmp")
            try:
                # O_EXCL: never reuse someone else's file; mode 0o666 lets the umask decide, like open().
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            os.close(fd)
            self._temp = candidate
            return candidate
        raise FileExistsError(f"could not create a temporary file next to {self.target}")

    def commit(self) -> None:
        """Flush the temporary file to disk and move it onto the target.

        Raises:
            TargetExistsError: ``overwrite`` is false and the target appeared since ``open``; the
                temporary file is removed.
        """
        temp = self.temp_path
        _fsync_path(temp, os.O_RDONLY)
        try:
            if self.overwrite:
                os.replace(temp, self.target)
            else:
                self._move_without_replacing(temp)
        except BaseException:
            self.abort()
            raise
        self._finished = True
        _fsync_directory(self.target.parent)

    def _move_without_replacing(self, temp: Path) -> None:
        # A hard link fails atomically if the target exists, closing the check-then-rename race.
        try:
            os.link(temp, self.target)
        except FileExistsError:
            raise TargetExistsError(self.target) from None
        except OSError:  # filesystems without hard links: best effort
            if self.target.exists():
                raise TargetExistsError(self.target) from None
            os.replace(temp, self.target)
            return
        temp.unlink()

    def abort(self) -> None:
        """Delete the temporary file, if any. Safe to call more than once and after ``commit``."""
        if self._finished:
            return
        self._finished = True
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _fsync_path(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; not every platform can open a directory, so failures are ignored."""
    try:
        _fsync_path(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        pass
