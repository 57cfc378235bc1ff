"""The live audience engine (实时圈客引擎): the current tag set's bitmap index, scopes and the DB catalog.

One ``AudienceEngine`` a process (``app.state.audience_engine`` in the API, one per home in workers). It
holds the ``BitmapIndex`` of the current tag set and moves to a newer one when a tag run publishes: each
request reads the store's small ``CURRENT`` file, and if it names another version one thread loads that
index (outside the engine's state lock) and swaps it in atomically. Requests hold a reference to the
``Loaded`` they started with, so an old index is freed only when the last request using it finishes.

Org scoping happens inside the plan: every estimate and member set is computed within the caller's
scope bitmap — the rows of their org subtree, or for an RM (管户) the rows of their assigned customers.
Scope bitmaps are cached per (tag set version, org, RM) for a minute.

``DbCatalog`` validates expressions against what exists: tags of the current tag set, the feature
schema, uploaded lists and saved audiences the caller may see.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyroaring import BitMap, FrozenBitMap
from sqlalchemy import literal, or_, select
from sqlalchemy.orm import Session

from omniloop.audiences import compiler
from omniloop.audiences.bitmap_index import BRANCH_DIMENSION, LIFECYCLE, BitmapIndex
from omniloop.audiences.expression import (
    Node,
    Problem,
    TagInfo,
    audience_error,
    audience_refs,
    join_path,
    parse_and_validate,
    parse_expression,
)
from omniloop.audiences.models import Audience
from omniloop.core.errors import NotFound, OmniloopError
from omniloop.core.ids import MAX_ID
from omniloop.customers import lists as customer_lists
from omniloop.customers.models import Customer, CustomerList
from omniloop.org.auth import Principal
from omniloop.org.models import Org
from omniloop.org.service import subtree_condition
from omniloop.tags.features import FEATURES, Feature, Kind
from omniloop.tags.tagset import TagMeta, index_path, tag_store, tagset_tags

SCOPE_TTL_SECONDS = 60.0
SCOPE_CACHE_SIZE = 256
LIST_CACHE_SIZE = 64
MAX_BREAKDOWNS = 6


class NoTagset(OmniloopError):
    code, status = "no_tagset", 409
    message_zh = "尚未发布标签数据，请先完成一次标签跑批后再圈选人群"
    message_en = "No tag set has been published yet; run the tags once before selecting audiences"


@dataclass(frozen=True)
class Loaded:
    """One published tag set as the engine serves it."""

    version: int
    index: BitmapIndex
    tags: dict[str, TagMeta]
    feature_version: int | None
    as_of: str | None
    loaded_at: float


# ---- visibility (shared with the service) -----------------------------------------------------------------

def visible_org_condition(org_path_column, principal: Principal):
    """Objects owned by an org on the caller's path: in their subtree (below) or an ancestor (shared down).

    A head-office audience serves every branch (each sees only its own customers in it); a branch's own
    audiences are visible to that branch, its sub-branches and the offices above it.
    """
    return or_(subtree_condition(org_path_column, principal.org.path),
               literal(principal.org.path).like(org_path_column + "%"))


def visible_lists(session: Session, principal: Principal) -> list[CustomerList]:
    """Uploaded lists the user may pick: the live (not archived) lists of their subtree."""
    return list(session.scalars(customer_lists.readable_lists(principal, archived=False)
                                .order_by(CustomerList.created_at.desc())))


def visible_audience_ids(session: Session, principal: Principal, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    stmt = (select(Audience.id).join(Org, Org.id == Audience.org_id)
            .where(Audience.id.in_(ids), visible_org_condition(Org.path, principal)))
    return set(session.scalars(stmt))


# ---- the catalog ------------------------------------------------------------------------------------------

class DbCatalog:
    """``expression.Catalog`` over the database and the current tag set, as one user sees it.

    Lists (of the user's subtree) and saved audiences referenced directly must be visible to the user;
    those reached through a saved audience are resolved whoever owns them (the audience's owner chose
    them, and members are cut to the user's scope anyway).
    """

    def __init__(self, session: Session, principal: Principal, tags: Mapping[str, TagMeta]) -> None:
        self.session = session
        self.principal = principal
        self.tags = tags
        self._list_ids: set[int] | None = None
        self._expressions: dict[int, Node | None] = {}

    def tag(self, code: str) -> TagInfo | None:
        meta = self.tags.get(code)
        if meta is None:
            return None
        kind = Kind.boolean if meta.kind == Kind.boolean.value else Kind.enum
        return TagInfo(code, kind, tuple(meta.values))

    def feature(self, name: str) -> Feature | None:
        return FEATURES.get(name)

    def has_list(self, list_id: int) -> bool:
        if self._list_ids is None:
            stmt = customer_lists.readable_lists(self.principal).with_only_columns(CustomerList.id)
            self._list_ids = set(self.session.scalars(stmt))
        return list_id in self._list_ids

    def audience_expression(self, audience_id: int) -> Node | None:
        if not 1 <= audience_id <= MAX_ID:  # no such row; and SQLite cannot even bind it
            return None
        if audience_id not in self._expressions:
            data = self.session.scalar(select(Audience.expression).where(Audience.id == audience_id))
            self._expressions[audience_id] = None if data is None else parse_expression(data)
        return self._expressions[audience_id]

    def check_direct_references(self, expr: Node) -> None:
        """Saved audiences named in ``expr`` itself must be visible to the user (404-like otherwise)."""
        direct = audience_refs(expr)  # walks ``expr`` only, not into the audiences it references
        visible = visible_audience_ids(self.session, self.principal, {a for _, a in direct if 1 <= a <= MAX_ID})
        problems = [Problem(join_path(p, "audience_id"), "unknown_audience", f"人群 {a} 不存在",
                            f"Unknown saved audience {a}") for p, a in direct if a not in visible]
        if problems:
            raise audience_error(problems)


class _Lists(Mapping[int, BitMap]):
    """Uploaded lists for the compiler, read from the database when first referenced."""

    def __init__(self, engine: AudienceEngine, session: Session) -> None:
        self.engine, self.session = engine, session

    def __getitem__(self, list_id: int) -> BitMap:
        found = self.engine.list_members(self.session, list_id)
        if found is None:
            raise KeyError(list_id)
        return found

    def get(self, list_id: int, default: Any = None) -> Any:
        found = self.engine.list_members(self.session, list_id)
        return default if found is None else found

    def __iter__(self) -> Iterator[int]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return True  # never empty to ``lists or {}``: its members are fetched on demand


# ---- the engine -------------------------------------------------------------------------------------------

@dataclass
class Query:
    """An expression checked against the catalog, ready to evaluate in one user's scope."""

    expr: Node
    loaded: Loaded
    scope: BitMap
    lists: Mapping[int, BitMap]
    audiences: Any

    def estimate(self, breakdown: Sequence[str]) -> compiler.Estimate:
        return compiler.estimate(self.expr, self.loaded.index, scope=self.scope, lists=self.lists,
                                 audiences=self.audiences, breakdown=breakdown)

    def members(self) -> BitMap:
        return compiler.members(self.expr, self.loaded.index, scope=self.scope, lists=self.lists,
                                audiences=self.audiences)


@dataclass
class AudienceEngine:
    """See the module docstring. Thread-safe; one per process and data directory."""

    home: Path
    _loaded: Loaded | None = None
    _state_lock: threading.Lock = field(default_factory=threading.Lock)
    _load_lock: threading.Lock = field(default_factory=threading.Lock)
    _scopes: OrderedDict[tuple, tuple[float, BitMap]] = field(default_factory=OrderedDict)
    _lists: OrderedDict[int, FrozenBitMap] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.store = tag_store(Path(self.home))

    # -- the current tag set --------------------------------------------------------------------------

    def current(self) -> Loaded:
        """The current tag set's index, loading a newer one if a run published since the last request."""
        version = self.store.current_version()
        loaded = self._loaded
        if version is None:
            if loaded is not None:
                return loaded  # CURRENT vanished (being restored?): keep serving what we have
            raise NoTagset()
        if loaded is not None and loaded.version == version:
            return loaded
        with self._load_lock:  # one loader; the others wait for it rather than load the same files
            loaded = self._loaded
            if loaded is not None and loaded.version >= version:
                return loaded
            fresh = self._load()
            with self._state_lock:
                self._loaded = fresh
                # Scopes are row bitmaps of one index: those of older versions are useless now.
                for key in [k for k in self._scopes if k[0] != fresh.version]:
                    del self._scopes[key]
            return fresh

    def _load(self) -> Loaded:
        for _ in range(5):
            version = self.store.current_version()
            if version is None:
                raise NoTagset()
            try:
                index = BitmapIndex.load(index_path(self.store, version))
                manifest = self.store.manifest(version)
            except FileNotFoundError:
                continue  # pruned or replaced between reading CURRENT and opening it: read CURRENT again
            return Loaded(version, index, tagset_tags(self.store, version), manifest.get("feature_version"),
                          manifest.get("as_of"), time.monotonic())
        raise NoTagset("标签数据正在更新，请稍后重试", "The tag set is being replaced; retry in a moment",
                       code="tagset_unavailable", status=503)

    def peek(self) -> Loaded | None:
        """The current tag set if one is published (loading it if needed), else None."""
        try:
            return self.current()
        except NoTagset:
            return None

    # -- scopes ---------------------------------------------------------------------------------------

    def scope(self, session: Session, principal: Principal, loaded: Loaded) -> BitMap:
        """Rows of ``loaded.index`` the principal may see: their org subtree, or their assigned customers."""
        rm = principal.role.assigned_customers_only
        key = (loaded.version, principal.org.id, principal.org.path, principal.user.id if rm else None)
        now = time.monotonic()
        with self._state_lock:
            cached = self._scopes.get(key)
            if cached is not None and now - cached[0] < SCOPE_TTL_SECONDS:
                self._scopes.move_to_end(key)
                return cached[1]
        if rm:
            cids = session.scalars(
                select(Customer.id).join(Org, Org.id == Customer.org_id)
                .where(subtree_condition(Org.path, principal.org.path), Customer.rm_id == principal.user.id))
            rows = loaded.index.rows_of(BitMap(cids))
        else:
            org_ids = session.scalars(select(Org.id).where(subtree_condition(Org.path, principal.org.path)))
            rows = loaded.index.scope(org_ids)
        frozen = FrozenBitMap(rows)
        with self._state_lock:
            self._scopes[key] = (now, frozen)
            while len(self._scopes) > SCOPE_CACHE_SIZE:
                self._scopes.popitem(last=False)
        return frozen

    # -- lists ----------------------------------------------------------------------------------------

    def list_members(self, session: Session, list_id: int) -> FrozenBitMap | None:
        """An uploaded list's cids (lists are immutable, so they are cached), or None if there is none."""
        if not 1 <= list_id <= MAX_ID:
            return None
        with self._state_lock:
            found = self._lists.get(list_id)
            if found is not None:
                self._lists.move_to_end(list_id)
                return found
        try:
            # Frozen: the index remembers the rows of a frozen bitmap, so a list is translated once.
            members = FrozenBitMap(customer_lists.list_members(session, list_id))
        except NotFound:
            return None
        with self._state_lock:
            self._lists[list_id] = members
            while len(self._lists) > LIST_CACHE_SIZE:
                self._lists.popitem(last=False)
        return members

    # -- queries --------------------------------------------------------------------------------------

    def prepare(self, session: Session, principal: Principal, data: Any, *,
                audience_id: int | None = None) -> Query:
        """Parse and validate ``data`` for ``principal``; raises 422 ``invalid_audience`` with paths."""
        loaded = self.current()
        catalog = DbCatalog(session, principal, loaded.tags)
        expr = parse_and_validate(data, catalog, audience_id=audience_id)
        catalog.check_direct_references(expr)
        return Query(expr, loaded, self.scope(session, principal, loaded), _Lists(self, session),
                     catalog.audience_expression)

    def check_breakdown(self, loaded: Loaded, breakdown: Sequence[str]) -> list[str]:
        dimensions = set(loaded.index.dimensions())
        wanted = list(dict.fromkeys(breakdown))
        problems = [Problem(f"breakdown.{i}", "unknown_dimension", f"不支持按“{d}”分布统计",
                            f"Cannot break down by {d!r}") for i, d in enumerate(wanted) if d not in dimensions]
        if len(wanted) > MAX_BREAKDOWNS:
            problems.append(Problem("breakdown", "too_many_dimensions", f"最多同时统计 {MAX_BREAKDOWNS} 个维度",
                                    f"At most {MAX_BREAKDOWNS} dimensions"))
        if problems:
            raise audience_error(problems)
        return wanted


DEFAULT_BREAKDOWN = (BRANCH_DIMENSION, LIFECYCLE)

_engine_lock = threading.Lock()
_engines: dict[Path, AudienceEngine] = {}


def engine_for(home: Path) -> AudienceEngine:
    """The process's engine for data directory ``home`` (workers; the API keeps its own on app.state)."""
    key = Path(home).resolve()
    with _engine_lock:
        if key not in _engines:
            _engines[key] = AudienceEngine(key)
        return _engines[key]


def app_engine(app: Any) -> AudienceEngine:
    """The engine on ``app.state``, created on first use from the app's settings."""
    engine = getattr(app.state, "audience_engine", None)
    if engine is None:
        with _engine_lock:
            engine = getattr(app.state, "audience_engine", None)
            if engine is None:
                engine = AudienceEngine(Path(app.state.settings.home))
                app.state.audience_engine = engine
    return engine


__all__ = ["DEFAULT_BREAKDOWN", "AudienceEngine", "DbCatalog", "Loaded", "NoTagset", "Query", "app_engine",
           "engine_for", "visible_audience_ids", "visible_lists", "visible_org_condition"]
