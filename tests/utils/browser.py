"""
One Playwright per test process (its sync API allows no second instance), driving Debian's Chromium.

Browser tests call `launch_chromium(extra_args)`; the browsers share the process-wide Playwright, which
stops when the process exits. `require_chromium()` skips when Chromium is missing, unless the run
demands every service (REQUIRE_SERVICES=1, as CI sets), where it fails instead.
"""

import atexit
import os
import shutil

from tests.utils.services import missing_service

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "launch_chromium", "require_chromium", "require_tool"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
_playwright = None


def require_tool(path_or_name: str, why: str) -> str:
    found = path_or_name if os.path.exists(path_or_name) else shutil.which(path_or_name)
    if not found:
        missing_service("%s is not installed: %s" % (path_or_name, why))
    return found


def require_chromium() -> None:
    require_tool(CHROMIUM, "apt-get install -y chromium")


def _shared_playwright():
    global _playwright
    if _playwright is None:
        os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        from playwright.sync_api import sync_playwright

        _playwright = sync_playwright().start()
        atexit.register(_playwright.stop)
    return _playwright


def launch_chromium(extra_args=()):
    """Start a headless Chromium with the flags this machine needs; the caller closes it."""
    require_chromium()
    return _shared_playwright().chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
