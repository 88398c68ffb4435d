"""Our worker of ``bench/capacity_sbs.py``: ``capacity_agent.sbs_voice_session`` (Silero VAD, zero-delay
fakes for STT and LLM, ``FakeTTS``'s tone of 0.05 s per character), endpointing 0.5-3.0 s, jobs
packed ``--jobs-per-process`` to a process (the default 4 unless told), one idle process kept
ready, no load limit (the benchmark finds the limit).

Prints ``registered`` once the server knows the worker; runs until its stdin closes.
Usage: ``LIVEKIT_URL=... LIVEKIT_API_KEY=... LIVEKIT_API_SECRET=... SBS_AGENT_NAME=... python capacity_sbs_ours.py``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from capacity_agent import prewarm, sbs_voice_session

from livekitex_agent.config import load_worker_settings
from livekitex_agent.worker import Worker, WorkerOptions


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs-per-process", type=int, default=4)
    args = parser.parse_args()
    options = WorkerOptions(
        entrypoint=sbs_voice_session,
        prewarm_fnc=prewarm,
        agent_name=os.environ["SBS_AGENT_NAME"],
        jobs_per_process=args.jobs_per_process,
        num_idle_processes=1,
        max_jobs=200,
        load_threshold=1.0,
        load_fnc=lambda: 0.0,
        http_port=0,
        memory_warn_mb=0,
        log_level="WARNING",
    )
    worker = Worker(options, load_worker_settings(options.settings_defaults()))
    await worker.start()
    try:
        await worker.wait_registered(30)
        print("registered", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the benchmark closes our stdin
    finally:
        await worker.aclose()


if __name__ == "__main__":
    asyncio.run(main())
