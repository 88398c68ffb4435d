"""``python -m livekitex_agent COMMAND``: the subcommands that need no agent script (e.g. ``demo``)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
