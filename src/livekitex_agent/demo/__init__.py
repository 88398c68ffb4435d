"""The demo: a simulated phone call to an example voice agent, with a live view and reports.

``python -m livekitex_agent demo`` (or ``make demo``). A caller (espeak-ng voice) says scripted
requests to a restaurant concierge agent with function tools; the agent hears them with local
VAD/STT, thinks with OpenAI (when ``OPENAI_API_KEY`` is set) or an offline rule-based policy, and
answers with local TTS, over a local LiveKit server when one is installed (else in memory).
The transcript, a stereo WAV of the call and a latency report land in ``demo-output/``.

Importing this package only registers the ``demo`` subcommand; the demo itself loads on use.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..cli import register_subcommand


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--transport",
        choices=("auto", "livekit", "memory"),
        default="auto",
        help="livekit: a local livekit-server (started and stopped by the demo); memory: in-process "
        "I/O; auto (default): livekit when livekit-server is installed",
    )
    p.add_argument(
        "--llm",
        choices=("auto", "openai", "offline"),
        default="auto",
        help="openai: OpenAI Chat Completions (needs OPENAI_API_KEY); offline: the example rule-based "
        "policy (not an AI model); auto (default): openai when OPENAI_API_KEY is set",
    )
    p.add_argument(
        "--turn-detection",
        choices=("smart-turn", "vad"),
        default="smart-turn",
        help="smart-turn (default): the Smart Turn model with transcript cues and preemptive "
        "generation; vad: silence alone (min_endpointing_delay), the framework's default",
    )
    p.add_argument(
        "--no-compare",
        dest="compare",
        action="store_false",
        help="skip the second, silent call with turn_detection='vad' that gives the latency table its "
        "'before' row",
    )
    p.add_argument("--output", default="demo-output", help="folder for the reports (default: demo-output)")
    view = p.add_mutually_exclusive_group()
    view.add_argument("--live", dest="tty", action="store_const", const=True, default=None,
                      help="force the live terminal view")  # fmt: skip
    view.add_argument("--plain", dest="tty", action="store_const", const=False,
                      help="plain line output (the default when stdout is not a terminal)")  # fmt: skip
    p.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default="WARNING",
        help="framework log level (default: WARNING)",
    )


def _handler(args: argparse.Namespace, options: Any) -> int:
    from .run import main

    return main(args)


register_subcommand(
    "demo",
    "run the demo: a simulated phone call to an example agent (no agent script needed)",
    _handler,
    _configure,
    needs_app=False,
)
