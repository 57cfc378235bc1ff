"""Saved audiences, snapshots and estimates (service layer; no HTTP)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.audiences.expression import TagPredicate, parse_expression, walk
from omniloop.audiences.models import Audience


def tag_usage(session: Session) -> dict[str, int]:
    """How many live saved audiences use each tag code (for the tag list's usage column)."""
    usage: Counter[str] = Counter()
    for data in session.scalars(select(Audience.expression).where(Audience.archived.is_(False))):
        codes = {node.tag for _, _, node in walk(parse_expression(data)) if isinstance(node, TagPredicate)}
        usage.update(codes)
    return dict(usage)
