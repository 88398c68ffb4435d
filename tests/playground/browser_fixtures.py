"""A real chromium, driven by Playwright, whose microphone plays a WAV file (Chromium's fake media)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from livekitex_agent.playground.routes import BUILD_HINT, BUNDLE

CHROMIUM = os.environ.get("LIVEKITEX_CHROMIUM", "/usr/bin/chromium")  # the browser the playground tests drive


def missing_part() -> str:
    """What keeps the browser tests from running here ("" when nothing)."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM} (scripts/install-playground.sh installs Debian's)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is missing (pip install 'livekitex-agent[dev]')"
    if not BUNDLE.is_file():
        return f"the playground's livekit-client bundle is missing: {BUILD_HINT}"
    return ""


def require_browser() -> None:
    """Skip on a developer machine without the parts; fail under CI, where the set-up installs them."""
    problem = missing_part()
    if not problem:
        return
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run in CI: {problem}")
    pytest.skip(f"browser test skipped: {problem}")


def chromium_args(microphone_wav: Path) -> list[str]:
    return [
        "--use-fake-ui-for-media-stream",  # grant the microphone without a prompt
        "--use-fake-device-for-media-stream",
        # the file plays once each time the microphone is opened, then silence
        f"--use-file-for-fake-audio-capture={microphone_wav}%noloop",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-gpu",
        "--disable-dev-shm-usage",
    ]
