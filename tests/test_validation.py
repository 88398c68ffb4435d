"""One validation path: every option refuses NaN/inf, bools for numbers, strings for flags, wrong
providers and plain functions for async hooks, with a message naming the option and the value."""

from __future__ import annotations

import pytest

from livekitex_agent import Agent, AgentSession
from livekitex_agent.config import load_worker_settings
from livekitex_agent.errors import ConfigError
from livekitex_agent.session.options import SessionOptions
from livekitex_agent.testing import FakeLLM
from livekitex_agent.tools import function_tool
from livekitex_agent.worker import JobContext, WorkerOptions

SERVER = {"LIVEKIT_URL": "ws://127.0.0.1:7880", "LIVEKIT_API_KEY": "devkey", "LIVEKIT_API_SECRET": "secret"}


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("user_away_timeout", float("nan"), r"user_away_timeout=nan must be a finite number \(use None"),
        ("idle_timeout", float("inf"), "idle_timeout=inf must be a finite number"),
        ("min_endpointing_delay", float("nan"), "min_endpointing_delay=nan must be a finite number"),
        ("false_interruption_timeout", -1.0, "false_interruption_timeout=-1.0 must be >= 0"),
        ("max_tool_steps", True, "max_tool_steps=True must be an integer"),
        ("max_tool_steps", 2.5, "max_tool_steps=2.5 must be an integer"),
        ("allow_interruptions", "no", "allow_interruptions='no' must be True or False"),
        ("max_history_items", "abc", "max_history_items='abc' must be an integer or None"),
        ("max_history_tokens", 8, "max_history_tokens=8 must be >= 16"),
        ("stt_streaming", 1, "stt_streaming=1 must be True or False"),
    ],
)
def test_session_options_name_the_bad_value(option: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AgentSession(**{option: value})
    with pytest.raises(ConfigError, match=message):
        SessionOptions(**{option: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"realtime_connect_timeout": -1}, "realtime_connect_timeout=-1 must be > 0"),
        ({"realtime_connect_timeout": float("nan")}, "realtime_connect_timeout=nan must be a finite"),
        ({"realtime_reconnect_grace": -3}, "realtime_reconnect_grace=-3 must be >= 0"),
        ({"realtime_recovery_interval": (5.0, 1.0)}, r"realtime_recovery_interval\[1\]=1.0 must be >= 5"),
        ({"llm": "not-an-llm"}, "llm must be a LLM, got str: 'not-an-llm'"),
        ({"tts": FakeLLM()}, "tts must be a TTS, got FakeLLM"),
        ({"close_on_input_end": "yes"}, "close_on_input_end='yes' must be True or False"),
    ],
)
def test_session_arguments_name_the_bad_value(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AgentSession(**kwargs)  # type: ignore[arg-type]


def test_agent_refuses_wrong_providers_and_flags() -> None:
    with pytest.raises(ConfigError, match="Agent stt must be a STT, got str"):
        Agent("hi", stt="whisper")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Agent allow_interruptions='no' must be True or False or None"):
        Agent("hi", allow_interruptions="no")  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), True, -1, 0])
def test_tool_timeout_must_be_a_positive_finite_number(timeout: object) -> None:
    with pytest.raises(ConfigError, match=f"tool 'lookup' timeout={timeout!r} must be"):

        @function_tool(timeout=timeout)  # type: ignore[arg-type]
        async def lookup() -> str:
            return ""


async def _entry(ctx: JobContext) -> None:
    pass


def _sync_entry(ctx: JobContext) -> None:
    pass


def test_worker_options_refuse_a_plain_entrypoint_and_bad_timeouts() -> None:
    with pytest.raises(ConfigError, match="entrypoint must be an async function .* _sync_entry"):
        WorkerOptions(entrypoint=_sync_entry)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="request_fnc must be an async function"):
        WorkerOptions(entrypoint=_entry, request_fnc=lambda req: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigError, match="WorkerOptions.shutdown_timeout=nan must be a finite"):
        WorkerOptions(entrypoint=_entry, shutdown_timeout=float("nan"))
    with pytest.raises(ConfigError, match="WorkerOptions.ping_timeout=-1 must be > 0 seconds"):
        WorkerOptions(entrypoint=_entry, ping_timeout=-1)
    with pytest.raises(ConfigError, match="WorkerOptions.executor='thread' must be one of"):
        WorkerOptions(entrypoint=_entry, executor="thread")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LIVEKITEX_DRAIN_TIMEOUT": "nan"}, "LIVEKITEX_DRAIN_TIMEOUT='nan' must be a finite number"),
        ({"LIVEKITEX_LOAD_THRESHOLD": "inf"}, "LIVEKITEX_LOAD_THRESHOLD='inf' must be a finite number"),
        ({"LIVEKITEX_MEMORY_LIMIT_MB": "-inf"}, "LIVEKITEX_MEMORY_LIMIT_MB='-inf' must be a finite"),
    ],
)
def test_settings_refuse_nan_and_infinity(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_worker_settings(env={**SERVER, **env})


def test_a_url_with_credentials_is_refused_without_showing_them() -> None:
    with pytest.raises(ConfigError, match="LIVEKIT_URL must not contain user:password@") as info:
        load_worker_settings(env={**SERVER, "LIVEKIT_URL": "wss://bob:hunter22@lk.example.com"})
    assert "hunter22" not in str(info.value)


def test_provider_policies_refuse_nan_and_bools() -> None:
    from livekitex_agent.providers import RetryPolicy
    from livekitex_agent.providers.fallback import FallbackOptions

    with pytest.raises(ConfigError, match="RetryPolicy.timeout=nan must be a finite number"):
        RetryPolicy(timeout=float("nan"))
    with pytest.raises(ConfigError, match="RetryPolicy.max_retries=True must be an integer"):
        RetryPolicy(max_retries=True)
    with pytest.raises(ConfigError, match="FallbackOptions.recovery_interval=nan must be a finite"):
        FallbackOptions(recovery_interval=float("nan"))


def test_provider_and_room_constructors_refuse_nan_and_bools() -> None:
    from livekitex_agent.plugins import openai
    from livekitex_agent.providers.realtime import RealtimeOptions
    from livekitex_agent.providers.vad import VADOptions
    from livekitex_agent.rooms.livekit import LiveKitRoomIO

    with pytest.raises(ConfigError, match="min_silence_duration=nan must be a finite number"):
        VADOptions(min_silence_duration=float("nan"))
    with pytest.raises(ConfigError, match="max_output_tokens=True must be an integer"):
        RealtimeOptions(model="m", max_output_tokens=True)
    with pytest.raises(ConfigError, match="openai.LLM read_timeout=nan must be a finite number"):
        openai.LLM(api_key="sk-test", read_timeout=float("nan"))
    with pytest.raises(ConfigError, match="disconnect_grace=nan must be a finite number"):
        LiveKitRoomIO(None, disconnect_grace=float("nan"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="text_input='no' must be True or False"):
        LiveKitRoomIO(None, text_input="no")  # type: ignore[arg-type]
