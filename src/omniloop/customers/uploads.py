"""Uploaded tabular files (CSV, Parquet, Excel) as temporary files for the readers of ``loader``.

Every upload endpoint that takes customer data — the customer import, customer lists, model scores —
checks the file type by name and the size against ``import_max_mb`` before reading a byte of it, then
hands the readers a real file with the right extension (openpyxl seeks; Parquet reads the footer).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fastapi import UploadFile

from omniloop.customers import loader


@contextlib.contextmanager
def saved_upload(file: UploadFile, *, max_mb: int, prefix: str = "omniloop-upload-") -> Iterator[Path]:
    """The upload as a temporary file, removed on exit; 415 for an unknown type, 413 when too large."""
    file_name = file.filename or ""
    loader.detect_format(file_name)
    limit = max_mb * 2**20
    size = file.size if file.size is not None else file.file.seek(0, 2)
    if size > limit:
        raise loader.ImportFileTooLarge(details={"max_bytes": limit, "bytes": size})
    file.file.seek(0)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        path = Path(tmp) / f"upload{Path(file_name).suffix.lower()}"
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        yield path
