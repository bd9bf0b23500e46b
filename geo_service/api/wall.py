"""The wall screen's figures: today and this month against the periods before, overdue by town, rankings."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["wall"])
