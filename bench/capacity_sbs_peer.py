"""The livekit-agents worker of ``bench/capacity_sbs.py``; runs in the benchmark's own virtualenv
(``livekit-agents`` and ``livekit-plugins-silero`` 1.8.x), never imports livekitex_agent.

The same work as ``capacity_agent.voice_agent_session``: Silero VAD (loaded once per job process by
the prewarm function), an STT that returns the caller's line at once for each VAD segment, an LLM
that answers the same sentence at once, a TTS that returns a 220 Hz tone of 0.05 s per character
(``FakeTTS``'s length) in one piece; endpointing 0.5-3.0 s after the VAD's end of speech,
interruptions by VAD, no preemptive generation. One job per process (the livekit-agents default),
one idle process kept ready, reporting no load (the benchmark finds the limit).

Each job appends its process id to ``$SBS_PIDS_FILE`` (job processes' memory is read from there).
Usage: ``LIVEKIT_URL=... LIVEKIT_API_KEY=... LIVEKIT_API_SECRET=... python capacity_sbs_peer.py start``
with ``SBS_AGENT_NAME`` the agent name to register.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from livekit.agents import (
    DEFAULT_API_CONNECT_OPTIONS,
    Agent,
    AgentSession,
    APIConnectOptions,
    JobContext,
    JobProcess,
    WorkerOptions,
    cli,
    llm,
    stt,
    tts,
)
from livekit.agents.types import NOT_GIVEN, NotGivenOr
from livekit.plugins import silero

USER_LINE = "what time is it in paris"
REPLY = "It is noon in Paris."
RATE = 24000


class ScriptedSTT(stt.STT):
    def __init__(self) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))

    async def _recognize_impl(
        self, buffer: Any, *, language: NotGivenOr[str] = NOT_GIVEN, conn_options: APIConnectOptions
    ) -> stt.SpeechEvent:
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            alternatives=[stt.SpeechData(language="en", text=USER_LINE)],
        )


class _ReplyStream(llm.LLMStream):
    async def _run(self) -> None:
        self._event_ch.send_nowait(
            llm.ChatChunk(id="reply", delta=llm.ChoiceDelta(role="assistant", content=REPLY))
        )


class ScriptedLLM(llm.LLM):
    def chat(
        self,
        *,
        chat_ctx: Any,
        tools: Any = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        **_: Any,
    ) -> llm.LLMStream:
        return _ReplyStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _ToneStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(request_id="tone", sample_rate=RATE, num_channels=1, mime_type="audio/pcm")
        seconds = max(0.1, len(self._input_text) * 0.05)
        t = np.arange(round(seconds * RATE), dtype=np.float32) / RATE
        output_emitter.push((0.3 * 32767 * np.sin(2 * math.pi * 220.0 * t)).astype(np.int16).tobytes())
        output_emitter.flush()


class ToneTTS(tts.TTS):
    def __init__(self) -> None:
        super().__init__(capabilities=tts.TTSCapabilities(streaming=False), sample_rate=RATE, num_channels=1)

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _ToneStream(tts=self, input_text=text, conn_options=conn_options)


def prewarm(proc: JobProcess) -> None:
    proc.userdata["vad"] = silero.VAD.load()


async def entrypoint(ctx: JobContext) -> None:
    pids = os.environ.get("SBS_PIDS_FILE")
    if pids:
        with open(pids, "a") as f:  # noqa: ASYNC230 - once per job, before it connects
            f.write(f"{os.getpid()}\n")
    await ctx.connect()
    session = AgentSession(
        vad=ctx.proc.userdata["vad"],
        stt=ScriptedSTT(),
        llm=ScriptedLLM(),
        tts=ToneTTS(),
        turn_handling={
            "turn_detection": "vad",
            "endpointing": {"min_delay": 0.5, "max_delay": 3.0},
            "interruption": {"mode": "vad"},
            "preemptive_generation": {"enabled": False},
        },
    )
    await session.start(Agent(instructions="You tell the time."), room=ctx.room)


def _no_load() -> float:
    """The worker reports no load (the machine's CPU is shared): the benchmark finds the limit."""
    return 0.0


if __name__ == "__main__":
    cli.run_app(
        WorkerOptions(
            entrypoint_fnc=entrypoint,
            prewarm_fnc=prewarm,
            agent_name=os.environ["SBS_AGENT_NAME"],
            num_idle_processes=1,
            load_threshold=math.inf,
            load_fnc=_no_load,
            host="127.0.0.1",
            port=0,
        )
    )
