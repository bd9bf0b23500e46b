"""The dispatcher's inbox: the cases of the user's jurisdiction that need someone now, with counts."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["inbox"])
