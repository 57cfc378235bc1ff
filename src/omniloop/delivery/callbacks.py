"""REST routes (filled by the part that owns this module; see docs/design/)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["delivery"])
