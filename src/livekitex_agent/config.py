"""Settings from the environment and explicit arguments.

Precedence, lowest to highest: built-in defaults → values given in code (``WorkerOptions``) →
environment variables → explicit overrides (command-line flags). Every validation error is a
:class:`~livekitex_agent.errors.ConfigError` naming where the bad value came from (the flag, the
variable or the option) and the value itself, except for secrets, whose value is never shown.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError
from .log import install_redaction

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class WorkerSettings:
    """Everything a worker needs that can come from the deployment rather than the code."""

    url: str = ""
    api_key: str = field(default="", repr=False)
    api_secret: str = field(default="", repr=False)
    agent_name: str = ""
    jobs_per_process: int = 4
    num_idle_processes: int = 1
    max_jobs: int = 0  # 0 = jobs_per_process × CPU count
    load_threshold: float = 0.75
    drain_timeout: float = 600.0
    http_host: str = "127.0.0.1"
    http_port: int = 8081  # 0 = any free port
    memory_warn_mb: float = 500.0  # 0 = never warn
    memory_limit_mb: float = 0.0  # 0 = no limit
    log_level: str = "INFO"

    @property
    def ws_url(self) -> str:
        """The server URL with a websocket scheme (``http`` → ``ws``, ``https`` → ``wss``)."""
        return to_ws_url(self.url)

    @property
    def http_url(self) -> str:
        """The server URL with an HTTP scheme, for the server APIs."""
        return to_http_url(self.url)

    def effective_max_jobs(self) -> int:
        return self.max_jobs or self.jobs_per_process * max(1, os.cpu_count() or 1)


# field -> environment variable
ENV_VARS: dict[str, str] = {
    "url": "LIVEKIT_URL",
    "api_key": "LIVEKIT_API_KEY",
    "api_secret": "LIVEKIT_API_SECRET",
    "agent_name": "LIVEKITEX_AGENT_NAME",
    "jobs_per_process": "LIVEKITEX_JOBS_PER_PROCESS",
    "num_idle_processes": "LIVEKITEX_NUM_IDLE_PROCESSES",
    "max_jobs": "LIVEKITEX_MAX_JOBS",
    "load_threshold": "LIVEKITEX_LOAD_THRESHOLD",
    "drain_timeout": "LIVEKITEX_DRAIN_TIMEOUT",
    "http_host": "LIVEKITEX_HTTP_HOST",
    "http_port": "LIVEKITEX_HTTP_PORT",
    "memory_warn_mb": "LIVEKITEX_MEMORY_WARN_MB",
    "memory_limit_mb": "LIVEKITEX_MEMORY_LIMIT_MB",
    "log_level": "LIVEKITEX_LOG_LEVEL",
}
SECRET_FIELDS = frozenset({"api_key", "api_secret"})


def _show(name: str, source: str, value: Any) -> str:
    return source if name in SECRET_FIELDS else f"{source}={value!r}"


def _to_int(name: str, source: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{_show(name, source, value)} is not an integer")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{_show(name, source, value)} is not an integer") from None


def _to_float(name: str, source: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{_show(name, source, value)} is not a number")
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ConfigError(f"{_show(name, source, value)} is not a number") from None
    if not math.isfinite(number):  # "nan" and "inf" parse, but mean nothing as a limit
        raise ConfigError(f"{_show(name, source, value)} must be a finite number")
    return number


def _to_str(name: str, source: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{_show(name, source, value)} must be a string")
    return value.strip()


_PARSERS: dict[type, Callable[[str, str, Any], Any]] = {int: _to_int, float: _to_float, str: _to_str}
_FIELD_TYPES: dict[str, type] = {
    f.name: {"int": int, "float": float, "str": str}[str(f.type)] for f in fields(WorkerSettings)
}


def load_worker_settings(
    defaults: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    override_sources: Mapping[str, str] | None = None,
    defaults_source: str = "WorkerOptions",
    require_server: bool = True,
) -> WorkerSettings:
    """Build and validate :class:`WorkerSettings`.

    ``defaults`` are values given in code, ``env`` defaults to ``os.environ``, ``overrides`` are
    explicit values (``None`` entries are ignored) and ``override_sources`` names each override in
    error messages (e.g. ``{"http_port": "--http-port"}``). ``require_server`` demands a URL and
    credentials (not needed for the offline console).
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer, label in (
        (defaults or {}, lambda n: f"{defaults_source}.{n}"),
        ({n: env[v] for n, v in ENV_VARS.items() if env.get(v, "") != ""}, lambda n: ENV_VARS[n]),
        (overrides or {}, lambda n: (override_sources or {}).get(n, n)),
    ):
        for name, value in layer.items():
            if value is None:
                continue
            if name not in _FIELD_TYPES:
                raise ConfigError(f"unknown worker setting {name!r}")
            source = label(name)
            values[name] = _PARSERS[_FIELD_TYPES[name]](name, source, value)
            sources[name] = source
    settings = replace(WorkerSettings(), **values)
    _validate(settings, sources, require_server)
    install_redaction([settings.api_secret])  # from now on it never reaches a log of ours
    return settings


def _validate(s: WorkerSettings, sources: Mapping[str, str], require_server: bool) -> None:
    def src(name: str) -> str:
        return sources.get(name, ENV_VARS.get(name, name))

    def bad(name: str, why: str) -> ConfigError:
        return ConfigError(f"{_show(name, src(name), getattr(s, name))} {why}")

    if require_server:
        for name in ("url", "api_key", "api_secret"):
            if not getattr(s, name):
                raise ConfigError(f"{ENV_VARS[name]} is not set (set the variable or pass the option)")
    if s.url:
        parts = urlsplit(s.url)
        if parts.scheme not in ("ws", "wss", "http", "https") or not parts.hostname:
            raise bad("url", "is not a ws://, wss://, http:// or https:// URL")
        if parts.username is not None or parts.password is not None:
            # credentials in the URL are never sent (the SDK authenticates with a token): say so
            # instead of retrying a connection that cannot work; the value is not shown (a password)
            raise ConfigError(
                f"{src('url')} must not contain user:password@ (use LIVEKIT_API_KEY and LIVEKIT_API_SECRET)"
            )
    if s.jobs_per_process < 1:
        raise bad("jobs_per_process", "must be at least 1")
    if s.num_idle_processes < 0:
        raise bad("num_idle_processes", "must be 0 or more")
    if s.max_jobs < 0:
        raise bad("max_jobs", "must be 0 (automatic) or more")
    if not 0.0 < s.load_threshold <= 1.0:
        raise bad("load_threshold", "must be in (0, 1]")
    if s.drain_timeout < 0:
        raise bad("drain_timeout", "must be 0 or more seconds")
    if not 0 <= s.http_port <= 65535:
        raise bad("http_port", "must be a port number in 0..65535")
    if s.memory_warn_mb < 0:
        raise bad("memory_warn_mb", "must be 0 (off) or more")
    if s.memory_limit_mb < 0:
        raise bad("memory_limit_mb", "must be 0 (off) or more")
    if s.memory_limit_mb and s.memory_warn_mb and s.memory_warn_mb > s.memory_limit_mb:
        raise bad("memory_warn_mb", f"is above the memory limit ({s.memory_limit_mb} MB)")
    check_log_level(s.log_level, src("log_level"))


def check_log_level(value: str, source: str = "log_level") -> str:
    """The upper-cased level name; a :class:`ConfigError` naming ``source`` and the value otherwise."""
    if not isinstance(value, str) or value.strip().upper() not in LOG_LEVELS:
        raise ConfigError(f"{source}={value!r} is not one of {', '.join(LOG_LEVELS)}")
    return value.strip().upper()


def to_ws_url(url: str) -> str:
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    return url


def to_http_url(url: str) -> str:
    if url.startswith("ws://"):
        return "http://" + url[len("ws://") :]
    if url.startswith("wss://"):
        return "https://" + url[len("wss://") :]
    return url
