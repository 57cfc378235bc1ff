"""Tag sets (标签版本): what each tag run publishes, and where processes find it.

Data files live under ``OMNILOOP_HOME/store``::

    store/features/v000012/…     the customer feature table (``feature_store.FeatureStore``)
    store/tagsets/v000031/
        features.parquet         one row a customer: ``cid`` and one ``tag__<code>`` column a tag
        index/                   the ``BitmapIndex`` over features + tags that live estimates use
        manifest.json            the store's manifest plus ``feature_version``, ``run_id`` and ``tags``
    store/tagsets/CURRENT        the current tag set, swapped atomically when a run publishes

A tag run (worker process) is the only publisher of tag sets; API processes load the current index and
swap to a newer one when ``CURRENT`` changes. A run that fails publishes nothing, so the previous tag
values and index stay current. ``manifest["tags"]`` maps each tag code to ``TagMeta.as_dict()``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from omniloop.audiences.bitmap_index import TAG_PREFIX, BitmapIndex
from omniloop.tags.feature_store import FeatureStore

STORE_DIR = "store"
TAGSETS = "tagsets"
INDEX_DIR = "index"


@dataclass(frozen=True)
class TagMeta:
    """A tag as a tag set saw it: enough to validate and compile audience predicates against it."""

    code: str
    kind: str  # "enum" or "boolean"
    values: tuple[str, ...] = ()
    tag_id: int | None = None
    definition_version: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["values"] = list(self.values)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TagMeta:
        return cls(code=data["code"], kind=data["kind"], values=tuple(data.get("values") or ()),
                   tag_id=data.get("tag_id"), definition_version=data.get("definition_version"),
                   extra=dict(data.get("extra") or {}))


def store_root(home: Path) -> Path:
    return Path(home) / STORE_DIR


def feature_store(home: Path, *, keep: int = 5) -> FeatureStore:
    return FeatureStore(store_root(home), keep=keep)


def tag_store(home: Path, *, keep: int = 5) -> FeatureStore:
    return FeatureStore(store_root(home), name=TAGSETS, keep=keep)


def index_path(store: FeatureStore, version: int) -> Path:
    return store.version_dir(version) / INDEX_DIR


def tag_column(code: str) -> str:
    return TAG_PREFIX + code


def publish_tagset(
    store: FeatureStore,
    *,
    values: pa.Table | Path,
    index: BitmapIndex | Path,
    tags: Mapping[str, TagMeta],
    feature_version: int | None,
    run_id: int | None,
    as_of: date | None,
    move: bool = False,
) -> int:
    """Publish tag values and their bitmap index as the next tag set; returns its version.

    ``values`` holds ``cid`` and ``tag__<code>`` for each of ``tags``; ``index`` is a built index (saved
    into a temporary directory next to the store) or a directory written by ``BitmapIndex.save``.
    """
    store.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=store.dir) as tmp:
        if isinstance(index, BitmapIndex):
            saved = Path(tmp) / INDEX_DIR
            index.save(saved)
            index, move_index = saved, True
        else:
            move_index = move
        meta = {"feature_version": feature_version, "run_id": run_id,
                "tags": {code: meta.as_dict() for code, meta in tags.items()}}
        if move_index and not move and not isinstance(values, pa.Table):
            # Mixed ownership: copy the caller's Parquet file, move our own index directory.
            target = Path(tmp) / "values.parquet"
            shutil.copyfile(values, target)
            values = target
        return store.publish(values, source="tag_run", as_of=as_of, move=move or move_index,
                             files={INDEX_DIR: index}, meta=meta)


def tagset_tags(store: FeatureStore, version: int | None = None) -> dict[str, TagMeta]:
    """The tags of a published tag set (the current one by default)."""
    manifest = store.manifest(version)
    return {code: TagMeta.from_dict(data) for code, data in (manifest.get("tags") or {}).items()}


__all__ = ["INDEX_DIR", "TAGSETS", "TagMeta", "feature_store", "index_path", "publish_tagset", "store_root",
           "tag_column", "tag_store", "tagset_tags"]
