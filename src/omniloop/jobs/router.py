"""HTTP routes for jobs."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/jobs", tags=["jobs"])
