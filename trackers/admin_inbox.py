"""The reviewer's inbox page in the admin (filled in by its own change)."""

from __future__ import annotations

urlpatterns: list = []
