"""Command line: ``python agent.py start|dev|connect|console`` via :func:`run_app`, and
``python -m livekitex_agent playground`` (the browser page for any running worker).

Subcommands live in a registry (:func:`register_subcommand`) so other parts (e.g. ``demo``) can
add theirs. Flags override environment variables, which override the values in ``WorkerOptions``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import ConfigError
from .log import configure_logging

if TYPE_CHECKING:
    from .config import WorkerSettings
    from .worker import WorkerOptions
    from .worker.console import ConsoleOptions

logger = logging.getLogger("livekitex_agent.cli")

Handler = Callable[[argparse.Namespace, "WorkerOptions | None"], int]
EXTENSION_MODULES = ("livekitex_agent.demo",)  # imported if present; they call register_subcommand
DEV_CHILD_ENV = "LIVEKITEX_DEV_CHILD"  # internal: "1" in the worker process `dev` restarts on code changes
AGENT_DATA_ENV = "LIVEKITEX_AGENT_DATA"  # rooms.livekit.dev_data: latency and tool calls for the page


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    handler: Handler
    # needs WorkerOptions (run from the agent's own script); a function decides from the arguments
    needs_app: bool | Callable[[argparse.Namespace], bool] = True


_SUBCOMMANDS: dict[str, Subcommand] = {}


def register_subcommand(
    name: str,
    help: str,
    handler: Handler,
    configure: Callable[[argparse.ArgumentParser], None] = lambda p: None,
    *,
    needs_app: bool | Callable[[argparse.Namespace], bool] = True,
) -> None:
    """Add (or replace) a subcommand: ``handler(args, options)`` returns the exit code."""
    _SUBCOMMANDS[name] = Subcommand(name, help, configure, handler, needs_app)


# ---------------------------------------------------------------- shared worker flags

# flag -> settings field
_WORKER_FLAGS = {
    "--url": "url",
    "--api-key": "api_key",
    "--api-secret": "api_secret",
    "--agent-name": "agent_name",
    "--jobs-per-process": "jobs_per_process",
    "--num-idle-processes": "num_idle_processes",
    "--max-jobs": "max_jobs",
    "--load-threshold": "load_threshold",
    "--drain-timeout": "drain_timeout",
    "--http-host": "http_host",
    "--http-port": "http_port",
    "--memory-warn-mb": "memory_warn_mb",
    "--memory-limit-mb": "memory_limit_mb",
    "--log-level": "log_level",
}


def _add_worker_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("worker settings (override LIVEKIT_* / LIVEKITEX_* variables)")
    for flag, field_name in _WORKER_FLAGS.items():
        g.add_argument(flag, dest=field_name, default=None, metavar=field_name.upper())


def resolve_settings(
    args: argparse.Namespace,
    options: WorkerOptions,
    *,
    require_server: bool = True,
    env: dict[str, str] | None = None,
    **forced: Any,
) -> WorkerSettings:
    """Settings from ``options`` < environment < flags (< ``forced`` values set by the subcommand)."""
    from .config import load_worker_settings

    overrides = {f: getattr(args, f, None) for f in _WORKER_FLAGS.values()}
    for name, value in forced.items():
        if overrides.get(name) is None:
            overrides[name] = value
    return load_worker_settings(
        options.settings_defaults(),
        env=env,
        overrides=overrides,
        override_sources={f: flag for flag, f in _WORKER_FLAGS.items()},
        require_server=require_server,
    )


# ---------------------------------------------------------------- built-in subcommands


def _start(args: argparse.Namespace, options: WorkerOptions | None) -> int:
    from .worker import run_worker

    assert options is not None
    settings = resolve_settings(args, options)
    configure_logging(settings.log_level, json=True)
    return asyncio.run(run_worker(options, settings, json_logs=True))


def _configure_dev(p: argparse.ArgumentParser) -> None:
    _add_worker_flags(p)
    p.add_argument("--no-reload", action="store_true", help="do not restart on code changes")
    p.add_argument("--watch", action="append", default=None, help="directory to watch (default: the cwd)")
    p.add_argument(
        "--no-playground",
        action="store_true",
        help="do not serve the browser playground (default: at http://<http-host>:<http-port>/playground/)",
    )


def _dev(args: argparse.Namespace, options: WorkerOptions | None) -> int:
    from .worker import run_worker

    assert options is not None
    settings = resolve_settings(args, options, log_level="DEBUG", drain_timeout=1.0, num_idle_processes=0)
    if not args.no_playground:  # the page shows each turn's latency and the tool calls
        os.environ.setdefault(AGENT_DATA_ENV, "1")
    if not args.no_reload and os.environ.get(DEV_CHILD_ENV) != "1":
        return _run_with_reload(args.watch or [os.getcwd()])
    configure_logging(settings.log_level)
    return asyncio.run(run_worker(options, settings, playground=not args.no_playground))


def _run_with_reload(paths: list[str]) -> int:
    try:
        import watchfiles
    except ImportError:
        print(
            "dev: reload needs watchfiles: pip install 'livekitex-agent[dev]' (or use --no-reload)",
            file=sys.stderr,
        )
        return 2
    argv = list(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    argv[0] = sys.executable
    os.environ[DEV_CHILD_ENV] = "1"
    print(f"dev: running {shlex.join(argv[1:])}, restarting when {', '.join(paths)} change", file=sys.stderr)
    watchfiles.run_process(*paths, target=shlex.join(argv), target_type="command")
    return 0


def _configure_connect(p: argparse.ArgumentParser) -> None:
    _add_worker_flags(p)
    p.add_argument("--room", required=True, help="room to join")
    p.add_argument("--participant-identity", default=None, help="the participant the agent serves")
    p.add_argument("--agent-identity", default=None, help="identity of the agent in the room")


def _connect(args: argparse.Namespace, options: WorkerOptions | None) -> int:
    from .worker import run_in_room
    from .worker.protocol import JS_SUCCESS

    assert options is not None
    if not args.room.strip():
        raise ConfigError(f"--room={args.room!r} is empty")
    settings = resolve_settings(args, options)
    configure_logging(settings.log_level)
    outcome = asyncio.run(
        run_in_room(
            options,
            settings,
            args.room,
            participant_identity=args.participant_identity,
            agent_identity=args.agent_identity,
        )
    )
    if outcome.status != JS_SUCCESS:
        print(f"job failed: {outcome.error}", file=sys.stderr)
        return 1
    return 0


def _configure_console(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Talk to the agent locally, no server. By default through the microphone and speakers; "
        "with --input-wav, a WAV file plays the user and the agent's voice goes to --output-wav. "
        "Ctrl-C ends the session."
    )
    p.add_argument("--log-level", default=None, help="DEBUG, INFO (default), WARNING, ERROR or CRITICAL")
    p.add_argument("--input-wav", default=None, help="read the user's speech from this WAV file (file mode)")
    p.add_argument(
        "--output-wav",
        default=None,
        help="write the agent's speech to this WAV file (in microphone mode: as well as playing it)",
    )
    g = p.add_argument_group("microphone mode (needs: pip install 'livekitex-agent[console]')")
    g.add_argument("--input-device", default=None, help="microphone: device index or part of its name")
    g.add_argument("--output-device", default=None, help="speaker: device index or part of its name")
    g.add_argument("--list-devices", action="store_true", help="list the sound devices and exit")
    g.add_argument(
        "--sample-rate", type=int, default=None, help="open the devices at this rate (default: their own)"
    )
    g.add_argument(
        "--allow-barge-in",
        action="store_true",
        help="keep the microphone open while the agent speaks, so you can interrupt it; use headphones, "
        "or the agent hears itself. Default: the microphone is muted while the agent speaks "
        "(and 0.3 s after), so its own voice never starts a turn",
    )


def _console(args: argparse.Namespace, options: WorkerOptions | None) -> int:
    from .config import check_log_level

    configure_logging(check_log_level(getattr(args, "log_level", None) or "INFO", "--log-level"))
    if args.list_devices:
        from .rooms.audio_device import format_devices

        print(format_devices())
        return 0
    assert options is not None
    from .worker.console import ConsoleOptions

    return run_console(
        options,
        ConsoleOptions(
            input_wav=args.input_wav,
            output_wav=args.output_wav,
            input_device=args.input_device,
            output_device=args.output_device,
            sample_rate=args.sample_rate,
            allow_barge_in=args.allow_barge_in,
        ),
    )


def run_console(
    options: WorkerOptions,
    opts: ConsoleOptions | None = None,
    *,
    input_wav: str | None = None,
    output_wav: str | None = None,
) -> int:
    """Run one agent session locally, with no server: microphone and speakers, or WAV files.

    ``input_wav``/``output_wav`` are shortcuts for ``ConsoleOptions(input_wav=..., output_wav=...)``.
    """
    from .worker.console import ConsoleOptions
    from .worker.console import run_console as impl  # like the other subcommands: worker code loads on use

    if opts is None:
        opts = ConsoleOptions(input_wav=input_wav, output_wav=output_wav)
    return impl(options, opts)


def _configure_playground(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Serve the browser playground for any worker registered with a LiveKit server: the page mints "
        "its room tokens with this API key (development only; it listens on loopback)."
    )
    for flag in ("--url", "--api-key", "--api-secret", "--agent-name", "--log-level"):
        p.add_argument(flag, dest=_WORKER_FLAGS[flag], default=None, metavar=_WORKER_FLAGS[flag].upper())
    p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8082, help="port to listen on (default 8082; 0 = any free)")


def _playground(args: argparse.Namespace, options: WorkerOptions | None) -> int:
    from .config import load_worker_settings
    from .playground import PlaygroundConfig, PlaygroundServer, bundle_missing_message
    from .playground.routes import BUNDLE
    from .worker.tokens import check_secret_strength

    names = ("url", "api_key", "api_secret", "agent_name", "log_level")
    settings = load_worker_settings(
        options.settings_defaults() if options is not None else None,
        overrides={n: getattr(args, n) for n in names},
        override_sources={f: flag for flag, f in _WORKER_FLAGS.items()},
    )
    configure_logging(settings.log_level)
    check_secret_strength(settings.api_secret)
    config = PlaygroundConfig(settings.ws_url, settings.api_key, settings.api_secret, settings.agent_name)
    server = PlaygroundServer(config, args.host, args.port)

    async def serve() -> None:
        await server.start()
        print(f"playground: open {server.url} to talk to agents on {settings.ws_url}", flush=True)
        if not BUNDLE.is_file():
            print(f"playground: {bundle_missing_message()}", end="", file=sys.stderr)
        try:
            await asyncio.Event().wait()  # until Ctrl-C
        finally:
            await server.aclose()

    try:
        asyncio.run(serve())
    except OSError as e:
        print(f"playground: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    return 0


register_subcommand("start", "run the worker in production (JSON logs)", _start, _add_worker_flags)
register_subcommand(
    "dev",
    "run the worker for development (debug logs, reload on code change)",
    _dev,
    _configure_dev,
)
register_subcommand(
    "connect",
    "run one job in a named room (joins directly; no dispatch needed)",
    _connect,
    _configure_connect,
)
register_subcommand(
    "console",
    "talk to the agent locally, no server",
    _console,
    _configure_console,
    needs_app=lambda args: not args.list_devices,  # listing the sound devices needs no agent
)
register_subcommand(
    "playground",
    "serve the browser playground for a running worker (development)",
    _playground,
    _configure_playground,
    needs_app=False,
)


# ---------------------------------------------------------------- entry points


def _load_extensions() -> None:
    for name in EXTENSION_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is None or not name.startswith(e.name):
                raise


def build_parser() -> argparse.ArgumentParser:
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "livekitex-agent"
    if prog == "__main__.py":
        prog = "python -m livekitex_agent"
    parser = argparse.ArgumentParser(prog=prog)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in _SUBCOMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
    return parser


def main(argv: Sequence[str] | None = None, options: WorkerOptions | None = None) -> int:
    """Parse ``argv`` and run the subcommand; returns the exit code (2 for bad configuration)."""
    _load_extensions()
    parser = build_parser()
    args = parser.parse_args(argv)
    cmd = _SUBCOMMANDS[args.command]
    needs_app = cmd.needs_app(args) if callable(cmd.needs_app) else cmd.needs_app
    if needs_app and options is None:
        parser.error(
            f"{cmd.name!r} runs an agent: call cli.run_app(WorkerOptions(...)) from your agent script"
        )
    try:
        return cmd.handler(args, options)
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run_app(options: WorkerOptions, argv: Sequence[str] | None = None) -> NoReturn:
    """The agent script's entry point: ``cli.run_app(WorkerOptions(entrypoint=...))``."""
    sys.exit(main(argv, options))
