"""Atomic file writes: a temporary file in the same folder, fsync, then ``os.replace``.

A reader sees the old file or the new one, never a torn one; on a full disk or an
unwritable folder the old file stays as it was and the ``OSError`` propagates.
"""

from __future__ import annotations

import os
import tempfile


def write_atomic(path, data: str | bytes) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    payload = data.encode("utf-8") if isinstance(data, str) else data
    # A short temporary name: one built from the report's name would pass the file system's limit
    # (255 bytes) for a report name near it, and the write would fail although the name is valid.
    fd, tmp = tempfile.mkstemp(prefix=".rv-", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a report is as readable as any new file
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename durable too; not every filesystem allows fsync on a folder
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux 4.7+): setting
    it to 0 and back would, for that instant, give files other threads create (a training process
    has many) permissions 0666/0777."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask
