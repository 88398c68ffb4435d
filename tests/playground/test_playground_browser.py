"""The playground in a real browser: chromium opens the page the ``dev`` worker serves, connects to a real
livekit-server, and talks to the agent with a microphone that plays an espeak-ng WAV.

What a person would notice is asserted: the agent's state (listening → thinking → speaking), both
sides' words in the transcript, the agent's voice reaching the page (a WebAudio analyser on the
remote track), the tool call and the turn's latency, a chat message answered, and a barge-in from
the microphone stopping the agent's voice.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_fixtures import CHROMIUM, chromium_args, require_browser
from playground_agent import (
    AGENT_NAME,
    AGENT_RATE,
    CHAT,
    GREETING,
    QUESTION,
    STORY,
    WEATHER_REPLY,
    entrypoint,
)

from livekitex_agent.config import load_worker_settings
from livekitex_agent.media.frame import AudioFrame
from livekitex_agent.media.wav import write_wav
from livekitex_agent.plugins.local.espeak import synthesize_to_frame
from livekitex_agent.testing.livekit_server import LiveKitServer
from livekitex_agent.worker import Worker, WorkerOptions

pytestmark = [pytest.mark.livekit, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
README_SCREENSHOT = REPO / "docs" / "images" / "playground.png"
UPDATE_SCREENSHOT_ENV = "LIVEKITEX_UPDATE_SCREENSHOT"  # =1: also write the README's screenshot
AUDIBLE_RMS = 0.01  # the page's threshold (app.js AUDIBLE_RMS), on the same 50 ms windows
MS = 1000


def audible_seconds(frame: AudioFrame) -> float:
    """How much of a clip the page's analyser would count as non-silent."""
    window = frame.sample_rate // 20
    samples = frame.data.astype(np.float32) / 32768.0
    n = samples.size // window
    rms = np.sqrt((samples[: n * window].reshape(n, window) ** 2).mean(axis=1))
    return float((rms > AUDIBLE_RMS).sum()) / 20


async def microphone_wav(path: Path) -> Path:
    """The user's question as the fake microphone's file: it starts playing when the microphone
    opens, so the question waits 1.5 s for the track to be published and reach the agent."""
    speech = await synthesize_to_frame(QUESTION + "?", voice="en-us+f3", rate=160, sample_rate=16000)
    lead, tail = np.zeros(24000, np.int16), np.zeros(4800, np.int16)
    write_wav(path, AudioFrame(np.concatenate([lead, speech.data, tail]), 16000, 1))
    return path


@pytest.fixture
async def playground_worker(
    livekit_server: LiveKitServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Worker]:
    """An agent worker as ``dev`` runs it: the playground served, dev data (latency, tools) on."""
    require_browser()
    monkeypatch.setenv("LIVEKITEX_AGENT_DATA", "1")  # what `dev` sets
    options = WorkerOptions(
        entrypoint=entrypoint,
        agent_name=AGENT_NAME,
        ws_url=livekit_server.url,
        api_key=livekit_server.api_key,
        api_secret=livekit_server.api_secret,
        http_port=0,
        executor="inprocess",
        load_fnc=lambda: 0.0,
    )
    worker = Worker(options, load_worker_settings(options.settings_defaults(), env={}), playground=True)
    await worker.start()
    await worker.wait_registered(20)
    try:
        yield worker
    finally:
        await asyncio.wait_for(worker.aclose(), 20)


@pytest.fixture
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # LIVEKITEX_TEST_ARTIFACTS=dir keeps the test's mid-call screenshot in dir
    folder = Path(os.environ.get("LIVEKITEX_TEST_ARTIFACTS") or tmp_path_factory.mktemp("artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def observed(page: Any, expression: str) -> Any:
    return await page.evaluate(f"window.playground.{expression}")


async def wait_for_page(page: Any, expression: str, timeout: float = 20.0) -> None:
    """Wait until a JS expression on the page's state is true (the page's CSP forbids
    Playwright's wait_for_function, which compiles its predicate in the page)."""
    async with asyncio.timeout(timeout):
        while not await page.evaluate(expression):  # noqa: ASYNC110 - the state lives in the browser
            await asyncio.sleep(0.05)


def states_after(history: list[dict[str, Any]], start: int) -> list[str]:
    return [h["state"] for h in history[start:]]


def in_order(seen: list[str], wanted: list[str]) -> bool:
    it = iter(seen)
    return all(state in it for state in wanted)


async def test_talk_to_the_agent_in_a_browser(
    playground_worker: Worker, tmp_path: Path, artifacts: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    wav = await microphone_wav(tmp_path / "question.wav")
    reply = await synthesize_to_frame(WEATHER_REPLY, voice="en-us", rate=AGENT_RATE, sample_rate=24000)
    story = await synthesize_to_frame(STORY, voice="en-us", rate=AGENT_RATE, sample_rate=24000)
    assert playground_worker.playground_url is not None
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=chromium_args(wav))
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20 * MS)
            expect.set_options(timeout=20 * MS)
            await page.goto(playground_worker.playground_url)
            await expect(page.locator("body")).to_have_attribute("data-ready", "true")
            await expect(page.get_by_label("Agent name")).to_have_value(AGENT_NAME)
            state = page.locator("#agent-state")
            transcript = page.locator("#transcript")
            agent_lines = transcript.locator("li.agent .text")

            # connect with the microphone off: the question is asked once the greeting is over
            await page.get_by_role("button", name="Turn microphone off").click()
            await page.get_by_role("button", name="Connect").click()
            await expect(agent_lines.first).to_have_text(GREETING)
            await wait_for_page(page, "window.playground.greetingSeconds !== null")
            greeting = await observed(page, "greetingSeconds")
            print(f"\nconnect -> greeting: {greeting:.2f} s (the agent's voice measured in the page)")
            await expect(state).to_have_text("listening")

            # speak: the microphone plays the question
            start = len(await observed(page, "stateHistory")) - 1  # from the current "listening"
            heard_before = await observed(page, "agentAudio.audibleSeconds")
            await page.get_by_role("button", name="Turn microphone on").click()
            user_line = transcript.locator("li.user:not(.interim) .text").first
            await expect(user_line).to_have_text(QUESTION)
            assert await observed(page, "micPeak") > 0.01  # the input level meter moved
            assert await observed(page, "interimUpdates") > 0  # words shown (greyed) while spoken
            devices = await page.get_by_label("Input device").locator("option").all_inner_texts()
            assert len(devices) >= 2, devices  # "Default" and chromium's fake microphone(s)
            await expect(agent_lines.nth(1)).to_have_text(WEATHER_REPLY)
            tool = page.locator("#tools li").first
            await expect(tool.locator(".name")).to_have_text("get_weather")
            await expect(tool.locator(".args")).to_contain_text('"city": "Paris"')
            # what participants send is shown as text, never parsed as HTML
            await expect(tool.locator(".result")).to_have_text("result: <b>Sunny</b> in Paris.")
            await expect(page.locator("#tools b")).to_have_count(0)
            await expect(state).to_have_text("listening")
            seen = states_after(await observed(page, "stateHistory"), start)
            assert in_order(seen, ["listening", "thinking", "speaking", "listening"]), seen
            latency = page.locator("#latency tbody tr").first.locator("td")
            await expect(latency.nth(4)).not_to_have_text("—")  # end-to-end
            e2e = float(await latency.nth(4).inner_text())
            assert 0 < e2e < 10, e2e
            await wait_for_page(page, "performance.now() - window.playground.agentAudio.lastAudibleAt > 300")
            heard = await observed(page, "agentAudio.audibleSeconds") - heard_before
            expected = audible_seconds(reply)
            print(f"reply heard in the page: {heard:.2f} s of voice (espeak-ng's clip: {expected:.2f} s)")
            assert 0.6 * expected <= heard <= 1.4 * expected + 0.3, (heard, expected)

            # chat: the agent answers a typed message with a long story ...
            await page.get_by_label("Message").fill(CHAT)
            await page.get_by_role("button", name="Send").click()
            await expect(transcript.locator("li.user .text").last).to_have_text(CHAT)
            story_line = agent_lines.nth(2)
            await expect(story_line).to_contain_text("Once upon a time")
            await expect(state).to_have_text("speaking")
            await wait_for_page(page, "performance.now() - window.playground.agentAudio.lastAudibleAt < 100")
            shot = artifacts / "playground-mid-call.png"
            await page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
            if os.environ.get(UPDATE_SCREENSHOT_ENV) == "1":
                README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(shot, README_SCREENSHOT)
            # ... and the user talks over it: the microphone (re)opens and plays the question again
            await page.get_by_role("button", name="Turn microphone off").click()
            barge_in = time.monotonic()
            await page.get_by_role("button", name="Turn microphone on").click()
            await wait_for_page(
                page, "performance.now() - window.playground.agentAudio.lastAudibleAt > 700", 12
            )
            stopped_after = time.monotonic() - barge_in - 0.7 - 1.5  # from the question's start
            story_left = audible_seconds(story)
            print(
                f"barge-in: the agent's voice stopped {stopped_after:.2f} s after the user started ({story_left:.1f} s of story)"
            )
            assert stopped_after < story_left / 2
            assert "sang to the waves" not in await story_line.inner_text()
            # the interruption is the user's next turn: their words are transcribed, the agent answers
            await expect(transcript.locator("li.user:not(.interim)")).to_have_count(3)
            await expect(agent_lines).to_have_count(4)
            print("transcript:", await transcript.locator("li").all_inner_texts())
            await page.get_by_role("button", name="Disconnect").click()
            await expect(page.get_by_role("button", name="Connect")).to_be_visible()
        finally:
            await browser.close()
