"""Where a warehouse may live, and the marker that says a folder is one.

The pipeline creates, rewrites and (on erasure, retention and pruning) deletes files under
``warehouse.path``. A typo there (``/``, ``/etc``, ``~``, a project folder) would scatter personal
data through the system and later delete within it, so :func:`check_root` refuses, when the config
is loaded:

- the file-system root, system folders (``/etc``, ``/usr``, ``/var``, ``/bin`` ...) and anything
  inside the ones that hold only the system (``/etc``, ``/usr``, ``/proc`` ...);
- the user's home folder itself (a folder inside it is fine);
- a folder that exists, is not empty and is not a warehouse.

A folder is a warehouse when it holds the marker file ``.golden-warehouse``, which
:func:`claim_root` writes on first use (every writer goes through the run lock, which claims the
root), or when it has the warehouse's own parts (``runs/``, ``state/``, ``raw/``,
``published/``, ``golden.duckdb``, ``reports/``): a warehouse made before the marker existed,
which gets the marker on its next use.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.errors import ConfigError

MARKER = ".golden-warehouse"
"""The file that marks a folder as a golden-records warehouse."""
PARTS = frozenset({"runs", "state", "raw", "published", "golden.duckdb", "reports"})
"""Top-level entries only a warehouse has: a folder with any of them is a warehouse."""

SYSTEM_FOLDERS = frozenset(
    {
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/usr/local",
        "/var",
        "/var/lib",
        "/var/tmp",
        "/var/log",
        "/var/cache",
        "/private",
        "/private/tmp",
        "/private/var",
        "/System",
        "/Library",
        "/Users",
        "/Applications",
    }
)
"""Folders that are never a warehouse themselves (a folder inside some of them is fine)."""
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sbin", "/sys", "/usr")
"""Folders whose whole tree belongs to the system: no warehouse anywhere inside them."""


def check_root(path: Path) -> Path:
    """Refuse a warehouse path that is not a warehouse's place (see the module docstring).

    Raises ``ValueError`` (which the config loader reports under ``warehouse.path``).
    """
    resolved = Path(os.path.realpath(path))
    text = resolved.as_posix()
    if resolved == Path(os.path.realpath(Path.home())):
        raise ValueError(
            f"{path} is your home folder; the warehouse needs a folder of its own inside it, "
            "for example ~/golden-warehouse"
        )
    inside = [tree for tree in SYSTEM_TREES if text.startswith(tree + "/")]
    if text in SYSTEM_FOLDERS or inside:
        where = f"inside the system folder {inside[0]}" if inside else "a system folder"
        raise ValueError(
            f"{path} is {where}; the warehouse needs a folder of its own, for example "
            "/var/lib/golden/warehouse or ./warehouse"
        )
    if resolved.is_dir() and not is_warehouse(resolved):
        # The marker is never a stranger: another run may claim the folder between the check
        # above and this listing (two first runs started at once on a new folder).
        strangers = _entries(resolved) - {MARKER}
        if strangers:
            shown = ", ".join(sorted(strangers)[:3]) + (", ..." if len(strangers) > 3 else "")
            raise ValueError(
                f"{path} is a folder that is not empty ({shown}) and is not a warehouse (no "
                f"{MARKER} file): give an empty or new folder"
            )
    elif resolved.exists() and not resolved.is_dir():
        raise ValueError(f"{path} is a file, not a folder")
    return path


def is_warehouse(folder: Path) -> bool:
    """The folder has the marker, or a warehouse's own parts (made before the marker)."""
    if (folder / MARKER).is_file():
        return True
    try:
        names = set(os.listdir(folder))
    except OSError:
        return False
    return bool(names & PARTS)


def claim_root(root: Path) -> None:
    """Create the warehouse folder if needed and mark it (first use, or an older warehouse).

    Checked again here, not only at config load: the folder may have filled up since.
    """
    try:
        check_root(root)
    except ValueError as exc:
        raise ConfigError(f"warehouse.path: {exc}") from None
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    marker = root / MARKER
    if marker.exists():
        return
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(
            "This folder is a golden-records warehouse (docs/architecture.md). The pipeline "
            "creates, rewrites and deletes files in it.\n"
        )


def _entries(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()
