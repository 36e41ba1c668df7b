"""Headless Chromium for the reviewer's pages: how it is started, the width the pages
must fit, and screenshots kept under ``tests/artifacts/`` for a reviewer to look at.

The fixtures ``served_admin`` and ``admin_page`` (tests/admin/conftest.py) serve the
admin with gunicorn and log a Chromium page in; a test using them is marked
``django_db(transaction=True)``, as the server's workers read what the test stored.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The width the reviewer's pages must fit (a common laptop screen).
REVIEWER_VIEWPORT = {"width": 1366, "height": 900}


def screenshot(page, name: str) -> Path:
    """Save the whole page as ``tests/artifacts/<name>.png``."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def fits_width(page) -> bool:
    """Whether the page needs no horizontal scrolling at its viewport's width."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


__all__ = [
    "ARTIFACTS",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "REVIEWER_VIEWPORT",
    "fits_width",
    "screenshot",
]
