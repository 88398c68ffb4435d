"""Optional dependencies of the local plugin, imported on first use with a helpful error."""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALL_HINT = "pip install livekitex-agent[local]"


def require(module: str, package: str, provider: str) -> ModuleType:
    """Import ``module`` or raise ImportError naming the pip package and the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"{provider} needs the '{package}' package (module '{module}'), which is not installed: "
            f"run `{INSTALL_HINT}` (or `pip install {package}`)"
        ) from e
