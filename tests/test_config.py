"""Worker settings: precedence (code < env < flags) and messages that name the bad value."""

from __future__ import annotations

import pytest

from livekitex_agent.config import WorkerSettings, load_worker_settings
from livekitex_agent.errors import ConfigError

SERVER = {
    "LIVEKIT_URL": "ws://127.0.0.1:7880",
    "LIVEKIT_API_KEY": "devkey",
    "LIVEKIT_API_SECRET": "s3cr3t-value",
}


def test_defaults_and_env() -> None:
    s = load_worker_settings(env=SERVER)
    assert (s.url, s.api_key, s.api_secret) == ("ws://127.0.0.1:7880", "devkey", "s3cr3t-value")
    assert (s.http_port, s.load_threshold, s.jobs_per_process) == (8081, 0.75, 4)
    assert "s3cr3t-value" not in repr(s) and "devkey" not in repr(s)


def test_precedence_code_then_env_then_overrides() -> None:
    code = {"http_port": 9000, "agent_name": "from-code", "load_threshold": 0.5}
    env = {**SERVER, "LIVEKITEX_HTTP_PORT": "9100", "LIVEKITEX_AGENT_NAME": "from-env"}
    s = load_worker_settings(code, env=env, overrides={"http_port": "9200", "agent_name": None})
    assert (s.http_port, s.agent_name, s.load_threshold) == (9200, "from-env", 0.5)


def test_url_schemes() -> None:
    s = load_worker_settings(env={**SERVER, "LIVEKIT_URL": "https://lk.example.com"})
    assert (s.ws_url, s.http_url) == ("wss://lk.example.com", "https://lk.example.com")
    with pytest.raises(ConfigError, match=r"LIVEKIT_URL='ftp://x' is not a ws://"):
        load_worker_settings(env={**SERVER, "LIVEKIT_URL": "ftp://x"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LIVEKITEX_HTTP_PORT": "abc"}, "LIVEKITEX_HTTP_PORT='abc' is not an integer"),
        ({"LIVEKITEX_HTTP_PORT": "70000"}, "LIVEKITEX_HTTP_PORT=70000 must be a port number in 0..65535"),
        ({"LIVEKITEX_LOAD_THRESHOLD": "1.5"}, r"LIVEKITEX_LOAD_THRESHOLD=1.5 must be in \(0, 1\]"),
        ({"LIVEKITEX_LOAD_THRESHOLD": "high"}, "LIVEKITEX_LOAD_THRESHOLD='high' is not a number"),
        ({"LIVEKITEX_JOBS_PER_PROCESS": "0"}, "LIVEKITEX_JOBS_PER_PROCESS=0 must be at least 1"),
        ({"LIVEKITEX_NUM_IDLE_PROCESSES": "-1"}, "LIVEKITEX_NUM_IDLE_PROCESSES=-1 must be 0 or more"),
        ({"LIVEKITEX_LOG_LEVEL": "LOUD"}, "LIVEKITEX_LOG_LEVEL='LOUD' is not one of DEBUG"),
        (
            {"LIVEKITEX_MEMORY_WARN_MB": "900", "LIVEKITEX_MEMORY_LIMIT_MB": "800"},
            r"LIVEKITEX_MEMORY_WARN_MB=900.0 is above the memory limit \(800.0 MB\)",
        ),
    ],
)
def test_bad_env_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_worker_settings(env={**SERVER, **env})


def test_bad_values_name_the_flag_or_the_option() -> None:
    with pytest.raises(ConfigError, match="--http-port='x' is not an integer"):
        load_worker_settings(
            env=SERVER, overrides={"http_port": "x"}, override_sources={"http_port": "--http-port"}
        )
    with pytest.raises(ConfigError, match=r"WorkerOptions.load_threshold=0.0 must be in \(0, 1\]"):
        load_worker_settings({"load_threshold": 0.0}, env=SERVER)
    with pytest.raises(ConfigError, match="WorkerOptions.jobs_per_process=True is not an integer"):
        load_worker_settings({"jobs_per_process": True}, env=SERVER)


def test_missing_server_settings() -> None:
    with pytest.raises(ConfigError, match="LIVEKIT_API_SECRET is not set"):
        load_worker_settings(env={k: v for k, v in SERVER.items() if k != "LIVEKIT_API_SECRET"})
    assert load_worker_settings(env={}, require_server=False) == WorkerSettings()


def test_secret_values_never_appear_in_errors() -> None:
    with pytest.raises(ConfigError) as err:
        load_worker_settings({"api_secret": 12345}, env=SERVER)
    assert "12345" not in str(err.value)
    assert str(err.value) == "WorkerOptions.api_secret must be a string"


def test_max_jobs_default_follows_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    assert load_worker_settings({"jobs_per_process": 5}, env=SERVER).effective_max_jobs() == 15
    assert load_worker_settings({"max_jobs": 7}, env=SERVER).effective_max_jobs() == 7
