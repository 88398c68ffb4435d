"""Imported by the worker's forkserver, never elsewhere: the user's main module, imported once there.

Every job process needs the module that defines the entrypoint (usually the script the worker was
started with). ``multiprocessing`` runs that script again in each new process unless the process it
forks from already has it; on Python 3.11 the forkserver never loads it by itself. So the manager
names it in ``LIVEKITEX_FORKSERVER_MAIN`` (``path:/abs/agent.py`` or ``name:package.module``) and it
is imported here as ``__mp_main__`` (its ``if __name__ == "__main__":`` block does not run), the way
each job process would have: what the script imports is then loaded once and shared.
"""

import os
import sys
from multiprocessing import process, spawn

from .manager import FORKSERVER_MAIN_ENV  # the package (so the manager) is imported first anyway


def _import_main(ref: str) -> None:
    kind, _, where = ref.partition(":")
    main = sys.modules.get("__main__")
    if kind == "path" and getattr(main, "__file__", None) != where:
        process.current_process()._inheriting = True  # type: ignore[attr-defined]
        try:
            spawn.import_main_path(where)
        finally:
            del process.current_process()._inheriting  # type: ignore[attr-defined]
    elif kind == "name" and getattr(getattr(main, "__spec__", None), "name", None) != where:
        spawn._fixup_main_from_name(where)  # type: ignore[attr-defined]


_ref = os.environ.pop(FORKSERVER_MAIN_ENV, "")
if _ref:
    try:
        _import_main(_ref)
    except (Exception, SystemExit):  # each job process then runs the script itself, and reports why it fails
        sys.modules.pop("__mp_main__", None)
