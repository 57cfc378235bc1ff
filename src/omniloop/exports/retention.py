"""Export files (导出文件) retention: exports are written under ``{home}/exports`` (audiences at the top,
tags in ``exports/tags``) for their requester to download; nothing else ever removes them.

``remove_expired`` deletes the files older than the retention (``OMNILOOP_EXPORT_RETENTION_DAYS``, 7 by
default), including half-written ``.part`` / ``.tmp`` files a crashed export left behind. Age is the
file's modification time, i.e. when the export finished. A download of a removed file answers that the
file is gone and asks for a new export, so the job rows themselves stay as history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

EXPORTS_DIR = "exports"


@dataclass
class Removed:
    files: int = 0
    bytes: int = 0
    kept: int = 0


def exports_root(home: Path) -> Path:
    return Path(home) / EXPORTS_DIR


def remove_expired(home: Path, *, days: int, now: datetime) -> Removed:
    """Delete export files last written more than ``days`` days before ``now``; safe to run twice."""
    if days < 1:
        raise ValueError("the export retention is at least one day")
    cutoff = (now - timedelta(days=days)).timestamp()
    removed = Removed()
    root = exports_root(home)
    if not root.is_dir():
        return removed
    for path in root.rglob("*"):
        try:
            if not path.is_file() or path.is_symlink():
                continue
            stat = path.stat()
            if stat.st_mtime >= cutoff:
                removed.kept += 1
                continue
            path.unlink()
        except FileNotFoundError:  # removed meanwhile (another cleanup, a re-run export's rename)
            continue
        removed.files += 1
        removed.bytes += stat.st_size
    return removed


__all__ = ["EXPORTS_DIR", "Removed", "exports_root", "remove_expired"]
