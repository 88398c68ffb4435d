"""Pure parts of the OpenAI realtime client: history sync, audio chunking, error mapping, config."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from livekitex_agent.chat import INSTRUCTIONS_ID, ChatMessage, FunctionCall, FunctionCallOutput
from livekitex_agent.errors import ConfigError, ErrorCategory
from livekitex_agent.media import AudioFrame
from livekitex_agent.plugins.openai.realtime import RealtimeModel, realtime_url
from livekitex_agent.plugins.openai.realtime.audio import AudioChunker
from livekitex_agent.plugins.openai.realtime.connection import close_error, handshake_error, server_error
from livekitex_agent.plugins.openai.realtime.history import diff_history, item_wire, replay_items
from livekitex_agent.plugins.openai.realtime.protocol import ErrorEvent
from livekitex_agent.plugins.openai.realtime.turn_audio import TurnAudio
from livekitex_agent.providers.realtime import RealtimeOptions, TurnDetection, audio_end_ms


def msg(role: str, text: str, id: str) -> ChatMessage:
    return ChatMessage(role=role, content=text, id=id)  # type: ignore[arg-type]


# -- audio_end_ms -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("played_ms", "received_bytes", "expected"),
    [(1500.0, 48 * 2000, 1500), (1500.9, 48 * 2000, 1500), (2500.0, 48 * 2000 + 47, 2000), (10.0, 0, 0)],
)
def test_audio_end_ms_is_min_of_played_and_received(played_ms: float, received_bytes: int, expected: int) -> None:
    assert audio_end_ms(played_ms, received_bytes) == expected


# -- history diff ---------------------------------------------------------------------------------------
def test_diff_creates_missing_items_in_order_and_deletes_removed() -> None:
    local = [
        msg("system", "instructions", INSTRUCTIONS_ID),
        msg("user", "hi", "u1"),
        msg("assistant", "hello", "a1"),
        FunctionCall(name="f", arguments="{}", call_id="c1", id="fc1"),
        FunctionCallOutput(call_id="c1", name="f", output="ok", id="o1"),
    ]
    creates, deletes = diff_history(local, ["u1", "gone", "a1"])
    assert deletes == ["gone"]
    assert [(item.id, prev) for item, prev in creates] == [("fc1", "a1"), ("o1", "fc1")]


def test_diff_inserts_at_root_and_keeps_protected_and_untranscribed_items() -> None:
    local = [msg("user", "edited in front", "u0"), msg("user", "", "audio1"), msg("assistant", "x", "a1")]
    creates, deletes = diff_history(local, ["audio1", "a1", "in_progress"], keep={"in_progress"})
    assert deletes == []  # audio1 is in the context (empty transcript), in_progress is protected
    assert [(item.id, prev) for item, prev in creates] == [("u0", "root")]


def test_empty_messages_and_instructions_are_never_created_or_replayed() -> None:
    local = [msg("system", "be nice", INSTRUCTIONS_ID), msg("user", "  ", "u1"), msg("user", "hey", "u2")]
    creates, _ = diff_history(local, [])
    assert [item.id for item, _ in creates] == ["u2"]
    assert [item.id for item in replay_items(local)] == ["u2"]


def test_an_untranscribed_user_turn_is_replayed_as_its_audio_until_its_transcript_comes() -> None:
    audio = TurnAudio(max_seconds=1.0, max_turns=2)
    audio.sent(b"\x01\x00" * 100)
    audio.committed("audio1")
    audio.sent(b"\x02\x00" * 10)
    audio.cleared()  # a buffer cleared without a commit belongs to no turn
    audio.committed("nothing_sent")
    local = [msg("user", "", "audio1"), msg("user", "", "nothing_sent"), msg("assistant", "hi", "a1")]
    assert [item.id for item in replay_items(local, audio.turns)] == ["audio1", "a1"]
    creates, _ = diff_history(local, [], audio=audio.turns)
    assert [(item.id, prev) for item, prev in creates] == [("audio1", "root"), ("a1", "audio1")]
    wire = item_wire(local[0], audio.turns)
    assert wire["content"] == [{"type": "input_audio", "audio": base64.b64encode(b"\x01\x00" * 100).decode()}]
    audio.transcribed("audio1")
    local[0].content = "now transcribed"
    assert item_wire(local[0], audio.turns)["content"] == [{"type": "input_text", "text": "now transcribed"}]
    assert audio.get("audio1") is None


def test_turn_audio_is_bounded_in_time_and_turns() -> None:
    audio = TurnAudio(max_seconds=0.01, max_turns=1)  # 480 bytes at 24 kHz PCM16
    for _ in range(10):
        audio.sent(b"\x00" * 100)
    audio.committed("t1")
    assert len(audio.get("t1") or b"") <= 480
    audio.sent(b"\x00" * 2)
    audio.committed("t2")
    assert audio.get("t1") is None and audio.get("t2") == b"\x00" * 2


# -- audio chunking -----------------------------------------------------------------------------------
def test_chunker_resamples_once_and_emits_100ms_chunks() -> None:
    chunker = AudioChunker()
    chunks: list[bytes] = []
    frame = AudioFrame(np.full(480, 1000, dtype=np.int16), 48000)  # 10 ms at 48 kHz
    for _ in range(35):
        chunks.extend(chunker.push(frame))
    assert [len(c) for c in chunks] == [4800, 4800, 4800]  # 100 ms of 24 kHz PCM16 each
    rest = chunker.flush()
    assert rest is not None and 0 < len(rest) < 4800 and len(rest) % 2 == 0
    assert chunker.flush() is None


def test_chunker_flush_sends_every_sample_of_a_segment() -> None:
    """350 ms at 16 kHz become 350 ms at 24 kHz: none is left behind in the resampler's filter."""
    chunker = AudioChunker()
    sent = 0
    for _ in range(35):
        sent += sum(len(c) for c in chunker.push(AudioFrame(np.full(160, 800, dtype=np.int16), 16000)))
    rest = chunker.flush()
    assert rest is not None
    assert abs((sent + len(rest)) // 2 - 8400) <= 2  # samples at 24 kHz
    assert chunker.flush() is None


def test_chunker_passes_24k_through_and_clear_drops_partial() -> None:
    chunker = AudioChunker()
    data = np.arange(3600, dtype=np.int16)  # 150 ms
    chunks = chunker.push(AudioFrame(data, 24000))
    assert len(chunks) == 1 and chunks[0] == data[:2400].tobytes()
    assert chunker.pending_ms == 50
    chunker.clear()
    assert chunker.flush() is None


# -- errors -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["invalid_api_key", "insufficient_quota", "account_deactivated",
                                  "billing_hard_limit_reached"])
def test_fatal_server_errors_are_not_retryable(code: str) -> None:
    err = server_error(ErrorEvent(code=code, message="nope"), provider="openai.RealtimeModel")
    assert not err.retryable and err.code == code
    assert err.category in (ErrorCategory.AUTHENTICATION, ErrorCategory.QUOTA)


def test_server_errors_are_redacted_and_classified() -> None:
    err = server_error(ErrorEvent(code=None, message="boom with sk-abcdefghijklmnop", error_type="server_error"),
                       provider="p", secrets=("sk-abcdefghijklmnop",))
    assert err.retryable and err.category is ErrorCategory.SERVER and "sk-abcdefghijklmnop" not in str(err)
    bad = server_error(ErrorEvent(code="invalid_value", message="bad"), provider="p")
    assert not bad.retryable and bad.category is ErrorCategory.BAD_REQUEST


@pytest.mark.parametrize(("code", "retryable"), [(1000, True), (1001, True), (1006, True), (1011, True),
                                                 (1012, True), (1013, True), (1008, False), (1002, False),
                                                 (None, True)])
def test_close_codes(code: int | None, retryable: bool) -> None:
    err = close_error(code, "maximum duration" if code == 1001 else None, provider="p")
    assert err.retryable is retryable
    if code == 1001:
        assert "1001" in err.message and "maximum duration" in err.message


@pytest.mark.parametrize(("status", "retryable"), [(401, False), (403, False), (404, False), (429, True),
                                                   (500, True), (503, True)])
def test_handshake_statuses(status: int, retryable: bool) -> None:
    assert handshake_error(status, provider="p").retryable is retryable


# -- configuration ------------------------------------------------------------------------------------
def test_realtime_url() -> None:
    assert realtime_url("https://api.openai.com/v1/", "gpt-realtime") == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert realtime_url("http://127.0.0.1:8000/v1", "a b") == "ws://127.0.0.1:8000/v1/realtime?model=a%20b"
    assert realtime_url("wss://proxy/v1", "m") == "wss://proxy/v1/realtime?model=m"
    with pytest.raises(ConfigError, match="ftp://x"):
        realtime_url("ftp://x", "m")


def test_missing_api_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        RealtimeModel()


def test_env_configuration_and_repr_hides_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-secret-123456")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    model = RealtimeModel(model="gpt-realtime-mini")
    assert model.url == "ws://127.0.0.1:9/v1/realtime?model=gpt-realtime-mini"
    assert model.headers == {"Authorization": "Bearer sk-env-secret-123456"}
    assert "sk-env" not in repr(model)
    assert model.label == "openai.RealtimeModel"


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="threshold"):
        TurnDetection(threshold=1.5)
    with pytest.raises(ConfigError, match="modalities"):
        RealtimeOptions(model="m", modalities=("video",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="connect_timeout"):
        RealtimeModel(api_key="k", connect_timeout=0)
