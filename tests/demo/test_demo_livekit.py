"""The demo through a real local livekit-server, which the demo starts and stops itself: the server
dispatches the job to the in-process worker, caller and agent talk over WebRTC tracks. ~40 s."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import numpy as np
import psutil
import pytest

from livekitex_agent.demo.run import DemoOptions, run_demo
from livekitex_agent.media.wav import read_wav
from livekitex_agent.testing.livekit_server import LiveKitServerNotFound, find_livekit_server

pytestmark = [pytest.mark.livekit, pytest.mark.slow]


async def test_the_demo_call_through_a_local_livekit_server(tmp_path: Path) -> None:
    if find_livekit_server() is None:
        if os.environ.get("CI"):
            raise LiveKitServerNotFound("livekit-server missing in CI: .ci/run must install it")
        pytest.skip("livekit-server not installed (run scripts/install-livekit-server.sh)")
    children_before = {p.pid for p in psutil.Process().children(recursive=True)}
    out = io.StringIO()
    options = DemoOptions(output=tmp_path, transport="livekit", llm="offline", tty=False)
    result = await asyncio.wait_for(run_demo(options, stream=out), 150)

    assert result.summary.passed, result.summary.text()
    log = [(e.who, e.text) for e in result.recorder.log]
    assert any(who == "info" and "the server dispatched job" in text for who, text in log)
    assert ("info", "session closed (participant_disconnected)") in log  # the caller hung up
    text = out.getvalue()
    assert "transport: local LiveKit server" in text and "registered as 'bistro-concierge'" in text

    # the recording holds both sides: what the caller said and what it heard from the agent's track
    wav = read_wav(result.files.audio_wav)
    win = wav.sample_rate // 20  # 50 ms windows
    stereo = wav.data.reshape(-1, 2).astype(np.int32)
    n = stereo.shape[0] // win
    peaks = np.abs(stereo[: n * win]).reshape(n, win, 2).max(axis=1)
    loud_seconds = (peaks > 3000).sum(axis=0) * 0.05
    # the caller's four requests are ~2 s of speech each; the agent's answers are longer
    assert loud_seconds[0] >= 4.0, f"the caller's channel holds {loud_seconds[0]:.1f} s of speech"
    assert loud_seconds[1] >= 4.0, f"the agent's channel holds {loud_seconds[1]:.1f} s of speech"

    # the server the demo started is gone, and no task is left
    alive = [p for p in psutil.Process().children(recursive=True) if p.pid not in children_before]
    assert not [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current and not t.done()] == []
