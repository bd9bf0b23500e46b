"""Photos and short videos of a case: uploaded, listed and served to those who may see the case."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["attachments"])
