"""The database file and its WAL/SHM companions are readable by this server's user only (0600).

They hold every tenant's runs, so the usual umask 022 (0644: any local user reads them) is wrong.
SQLite creates `-wal` and `-shm` with the permissions of the database file itself (os_unix.c,
`findCreateFileMode`), so creating the database 0600 before SQLite opens it is enough for new
files. Existing files with group/other bits (databases created by earlier versions) are tightened
in place with a warning, since leaving them readable would leave the hole open on every upgrade;
a file this user cannot chmod is reported and left as it is.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

PRIVATE_MODE = 0o600
COMPANIONS = ("-wal", "-shm", "-journal")


def make_database_private(path: Path) -> None:
    """Create `path` 0600 if it does not exist; tighten it and its companions if they are looser."""
    if str(path) == ":memory:":
        return
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
        return  # new: SQLite gives the WAL and SHM files it creates this same mode
    except FileExistsError:
        pass
    except OSError:
        return  # a missing directory, a read-only place: SQLite reports it as STORAGE_UNAVAILABLE
    for file in (path, *(path.with_name(path.name + suffix) for suffix in COMPANIONS)):
        _tighten(file)


def _tighten(file: Path) -> None:
    try:
        info = file.stat()
    except OSError:
        return
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISREG(info.st_mode) or not mode & 0o077:
        return
    try:
        os.chmod(file, mode & 0o700)
    except OSError as exc:
        logger.warning(
            "database file %s has mode %04o: other local users can read it; chmod 600 failed (%s)",
            file,
            mode,
            exc.strerror,
        )
        return
    logger.warning(
        "database file %s had mode %04o (other local users could read it): now %04o", file, mode, mode & 0o700
    )
