"""All-or-nothing outputs: the target path only ever holds a finished export, and only cassnb's own is replaced.

An export can fail or be interrupted half-way (server error, Ctrl-C in the notebook, a cancelled task).
Writing straight to the target would leave a truncated file that looks like a complete one, and could
destroy the previous good copy. So the data goes to a hidden temporary file next to the target (the same
directory, hence the same filesystem, so the final rename is atomic), and only ``commit`` moves it into
place after flushing it to disk.

A directory export (:class:`AtomicDirectory`) is staged the same way, in a fresh sibling directory, and
carries a manifest (:data:`MANIFEST_NAME`) listing the files cassnb wrote. cassnb replaces a directory only
when it is empty or holds exactly such an export and nothing else; it refuses the filesystem root, the home
directory, the working directory and every directory above it outright. Nothing here removes a file it did
not create: removals go file by file through the names cassnb wrote, never through a recursive delete.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from .exceptions import ConfigurationError

log = logging.getLogger("cassnb.exports")

#: The file that marks a directory as a complete cassnb export and lists the files cassnb wrote there.
MANIFEST_NAME = "_cassnb_export.json"
_MANIFEST_KIND = "cassnb export"


def path_error(kind: type[OSError], code: int | None, message: str) -> OSError:
    """An ``OSError`` of ``kind`` whose ``str`` is exactly ``message`` (one line), with ``errno`` set."""
    error = kind(message)
    error.errno = code
    return error


_OS_ADVICE = {
    errno.ENOENT: "the directory {parent} does not exist: create it, or choose another path",
    errno.ENOTDIR: "{parent} is not a directory: choose another path",
    errno.EACCES: "permission denied in {parent}: choose a directory you can write to",
    errno.EPERM: "permission denied in {parent}: choose a directory you can write to",
    errno.EROFS: "{parent} is on a read-only file system: choose another place",
    errno.ENOSPC: "the disk is full: free some space, or choose another disk",
    errno.EDQUOT: "the disk quota is used up: free some space, or choose another disk",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter one",
}


def explain_os_error(exc: OSError, target: Path) -> OSError:
    """``exc`` (raised while writing ``target`` or its temporary file) as one line about the target itself.

    Errors that already speak of the target (:class:`TargetExistsError`, the refusals) come back unchanged.
    """
    if isinstance(exc, TargetExistsError) or exc.errno is None or getattr(exc, "explained", False):
        return exc
    advice = _OS_ADVICE.get(exc.errno, exc.strerror or type(exc).__name__)
    message = f"cannot write {target}: {advice.format(parent=target.parent)}; nothing was written there"
    explained = path_error(type(exc), exc.errno, message)
    explained.explained = True  # type: ignore[attr-defined]
    return explained


class TargetExistsError(FileExistsError):
    """The export target already exists and may not be replaced (``overwrite`` not given, or not cassnb's)."""

    def __init__(self, path: Path, refusal: str | None = None) -> None:
        #: False when cassnb will not replace the path whatever the options (``refusal`` says why).
        self.replaceable = refusal is None
        self.path = path
        self.message = refusal or f"{path} already exists; pass overwrite=True to replace it"
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
        self.target = Path(os.path.abspath(os.fspath(target)))
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
        if self.target.is_dir():
            raise IsADirectoryError(
                errno.EISDIR, f"{self.target} is a directory; give the path of a file to write", str(self.target)
            )
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


# --- directories -----------------------------------------------------------------------------------------


def resolve_directory_target(target: str | os.PathLike[str]) -> Path:
    """The real, absolute directory ``target`` names (``~`` expanded, links and ``..`` resolved).

    Raises:
        ConfigurationError: the target is the filesystem root, the home directory, the working directory
            or a directory above either of them: cassnb never replaces those.
    """
    text = os.fspath(target)
    resolved = Path(os.path.expanduser(text or ".")).resolve()
    cwd, home = Path.cwd().resolve(), Path.home().resolve()
    why = None
    if resolved == Path(resolved.anchor):
        why = "the filesystem root"
    elif resolved == cwd:
        why = "the working directory"
    elif resolved in cwd.parents:
        why = "a parent of the working directory"
    elif resolved == home:
        why = "the home directory"
    elif resolved in home.parents:
        why = "a parent of the home directory"
    if why is not None:
        shown = text if os.fspath(resolved) == text else f"{text!r} ({resolved})"
        raise ConfigurationError(
            f"cassnb refuses to export into {shown}: it is {why}, which an export would replace; "
            "name a new directory for the export, e.g. ./export/"
        )
    return resolved


def _plain_name(name: object) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and os.path.basename(name) == name


def _manifest_files(directory: Path) -> list[str] | None:
    """The files a valid cassnb manifest in ``directory`` lists, or None when there is none (or a broken one)."""
    try:
        data = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) and data.get("kind") == _MANIFEST_KIND else None
    if not isinstance(files, list) or not all(_plain_name(name) for name in files):
        return None
    return list(files)


def _existing_export(directory: Path) -> list[str] | None:
    """What is at ``directory`` now: None (nothing), [] (an empty directory) or the files of cassnb's export.

    Raises:
        TargetExistsError: something cassnb may not replace is there (a file, a directory it did not write,
            or its export with files added since).
    """
    if not os.path.lexists(directory):
        return None
    if not directory.is_dir():
        raise TargetExistsError(directory, f"{directory} is a file; name a directory to export into")
    entries = sorted(os.listdir(directory))
    if not entries:
        return []
    files = _manifest_files(directory) if MANIFEST_NAME in entries else None
    if files is None:
        raise TargetExistsError(
            directory,
            f"{directory} is not empty and cassnb did not write it (no {MANIFEST_NAME} there); cassnb replaces "
            "only its own exports: name a new directory, or empty this one yourself",
        )
    foreign = [name for name in entries if name != MANIFEST_NAME and name not in files]
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise TargetExistsError(
            directory,
            f"{directory} holds files cassnb did not write ({shown}), so cassnb will not replace it; move them "
            "out, or name a new directory",
        )
    return files


def _remove_files(directory: Path, names: Iterable[str]) -> None:
    """Remove the named files of ``directory``, then the directory if that left it empty."""
    for name in names:
        if not _plain_name(name):
            continue
        try:
            (directory / name).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not remove %s: %s", directory / name, exc.strerror or exc)
    try:
        directory.rmdir()
    except OSError as exc:  # something else is in it now: it stays
        log.warning("left %s in place: %s", directory, exc.strerror or exc)


class AtomicDirectory:
    """A directory of part files, staged in a fresh sibling and moved onto the target as a whole.

    ``open`` checks the target (see the module docstring) and creates the staging directory; the caller
    writes the files it names with :meth:`add` into :attr:`staging`; ``commit`` writes the manifest and puts
    the directory in place (replacing cassnb's previous export there, if ``overwrite``); ``abort`` removes
    what was staged.

    Raises:
        ConfigurationError: (on construction) a target cassnb refuses outright.
    """

    def __init__(self, target: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self.target = resolve_directory_target(target)
        self.overwrite = overwrite
        self._staging: Path | None = None
        self._files: list[str] = []
        self._finished = False

    @property
    def staging(self) -> Path:
        if self._staging is None or self._finished:
            raise RuntimeError("AtomicDirectory is not open")
        return self._staging

    def _check(self) -> list[str] | None:
        existing = _existing_export(self.target)
        if existing and not self.overwrite:
            raise TargetExistsError(self.target)
        return existing

    def open(self) -> Path:
        """Check the target and create the staging directory beside it; return the staging directory.

        Raises:
            TargetExistsError: the target holds cassnb's export and ``overwrite`` is false, or it holds
                anything else that is not empty.
        """
        if self._staging is not None:
            raise RuntimeError("AtomicDirectory.open() called twice")
        self._check()
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            staging = tempfile.mkdtemp(prefix=f".{self.target.name}.", suffix=".staging", dir=self.target.parent)
        except OSError as exc:
            raise explain_os_error(exc, self.target) from None
        self._staging = Path(staging)
        return self._staging

    def add(self, name: str) -> Path:
        """Register a file to be written into the staging directory, and return its path there."""
        if not _plain_name(name) or name == MANIFEST_NAME:
            raise ValueError(f"not a part file name: {name!r}")
        self._files.append(name)
        return self.staging / name

    def commit(self, summary: dict[str, Any]) -> None:
        """Write the manifest (the files added, and ``summary``) and move the directory into place."""
        staging = self.staging
        manifest = {"kind": _MANIFEST_KIND, **summary, "files": sorted(self._files)}
        with AtomicFile(staging / MANIFEST_NAME) as atomic:
            atomic.temp_path.write_text(json.dumps(manifest, indent=1, default=str), encoding="utf-8")
        _fsync_directory(staging)
        try:
            existing = self._check()
            if existing:
                self._replace(staging, existing)
            else:
                self._rename(staging)
        except BaseException:
            self.abort()
            raise
        self._finished = True
        _fsync_directory(self.target.parent)

    def _rename(self, staging: Path) -> None:
        try:
            os.rename(staging, self.target)  # onto nothing, or onto an empty directory: atomic
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):  # filled by someone else meanwhile
                raise TargetExistsError(
                    self.target, f"{self.target} was filled by another program during the export; nothing was replaced"
                ) from None
            raise

    def _replace(self, staging: Path, old_files: list[str]) -> None:
        """Swap cassnb's previous export out and the new one in, then remove the old files one by one."""
        retired = self.target.with_name(f".{self.target.name}.{secrets.token_hex(4)}.replaced")
        os.rename(self.target, retired)
        try:
            os.rename(staging, self.target)
        except BaseException:
            os.rename(retired, self.target)
            raise
        _remove_files(retired, [*old_files, MANIFEST_NAME])

    def abort(self) -> None:
        """Remove the staged files and the staging directory. Idempotent; nothing once committed."""
        if self._finished:
            return
        self._finished = True
        if self._staging is not None:
            _remove_files(self._staging, [*self._files, MANIFEST_NAME])
