"""Writing files atomically: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


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
        dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix
    )
    os.close(fd)
    try:
        write(Path(tmp))
        # mkstemp makes the file private (0600); a written result gets the usual mode
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
