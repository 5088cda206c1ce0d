"""Writing files atomically: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "remove_temporaries"]

#: Marks the temporary files of :func:`atomic_write`: ``.<name>.tmp-<random><suffix>``.
TEMPORARY_TAG = ".tmp-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write, suffix: str | None = None) -> Path:
    """Call ``write(tmp_path)`` then move ``tmp_path`` onto ``path`` atomically.

    Parameters
    ----------
    path : str or Path
        Final location.
    write : callable
        Receives a temporary path (same directory, same suffix) and writes the file there.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}{TEMPORARY_TAG}", suffix=suffix or path.suffix
    )
    os.close(fd)
    try:
        try:
            write(Path(tmp))
        except OSError as exc:  # a full disk or a file-size limit: name the file, not the tmp
            if exc.filename not in (None, tmp, str(tmp)):
                raise
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        # mkstemp makes the file private (0600); a written result gets the usual mode
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_temporaries(directory) -> list:
    """Delete the temporary files that :func:`atomic_write` left in ``directory`` and below
    when its process was killed mid-write (SIGKILL gives no chance to clean up).

    Only names of the form ``.<name>.tmp-<random><suffix>`` are removed; call it only where
    no other process is writing. Returns the removed paths.
    """
    removed = []
    for path in Path(directory).rglob(f".*{TEMPORARY_TAG}*"):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
