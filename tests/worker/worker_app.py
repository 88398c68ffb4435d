"""An agent script for the drain tests: ``python worker_app.py start`` (settings from the environment).

Each job joins its room, writes ``<room>.started`` in $TEST_OUT_DIR, waits for ``<room>.release``,
writes ``<room>.finished`` and ends. A job in a room named ``fail-...`` logs a multi-line message
holding a key and fails with a traceback that holds it too (the JSON-logs test).
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from livekitex_agent import cli
from livekitex_agent.worker import JobContext, WorkerOptions

if "TEST_OUT_DIR" in os.environ:  # each process that runs this script says so
    with open(Path(os.environ["TEST_OUT_DIR"]) / "script-runs.txt", "a") as runs:
        runs.write(f"{os.getpid()} {__name__}\n")


logger = logging.getLogger("worker_app")  # the app's own logger, not the framework's


async def entrypoint(ctx: JobContext) -> None:
    out = Path(os.environ["TEST_OUT_DIR"])
    room = ctx.job.room.name
    if room.startswith("fail-"):
        key = os.environ["TEST_KEY"]
        logger.warning("two lines,\nthe second with \"quotes\" and the key %s", key)
        (out / f"{room}.started").write_text(str(os.getpid()))
        raise RuntimeError(f"the tool failed with key {key}")
    await ctx.connect()
    tmp = out / f".{room}.tmp"
    tmp.write_text(str(os.getpid()))
    tmp.rename(out / f"{room}.started")  # atomic: the test never reads a half-written file
    release = out / f"{room}.release"
    for _ in range(600):  # bounded: 30 s
        if release.exists():
            break
        await asyncio.sleep(0.05)
    (out / f"{room}.finished").write_text("ok")
    ctx.shutdown("released")


if __name__ == "__main__":
    cli.run_app(WorkerOptions(entrypoint=entrypoint))
