"""Every generated documentation file, path → text."""

from __future__ import annotations

from .reference import RENDERERS


def generate() -> dict[str, str]:
    out = {path: render().rstrip("\n") + "\n" for path, render in RENDERERS.items()}
    from .performance import PERFORMANCE_MD, render_performance

    out[PERFORMANCE_MD] = render_performance()
    return out
