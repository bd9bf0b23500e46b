"""Departments: their cases, transfers to them and back, and their figures."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["departments"])
