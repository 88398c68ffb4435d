"""What the appendices list, read from the code: modules, constructor options, env vars, flags, metrics."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import pkgutil
import re
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .describe import describe

PACKAGE = "livekitex_agent"
ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
ENV_RE = re.compile(r"^(?:LIVEKIT|LIVEKITEX|OPENAI)_[A-Z0-9_]+$")
# modules with side effects at import (the forkserver's entry point) or that only run a program
SKIP_MODULES = ("__main__", "forkserver_main")


def modules() -> list[Any]:
    """Every module of the package, imported, sorted by name."""
    pkg = importlib.import_module(PACKAGE)
    out = [pkg]
    for info in pkgutil.walk_packages(pkg.__path__, PACKAGE + "."):
        if info.name.rsplit(".", 1)[-1] in SKIP_MODULES:
            continue
        out.append(importlib.import_module(info.name))
    return sorted(out, key=lambda m: m.__name__)


def is_public(module_name: str) -> bool:
    return not any(part.startswith("_") for part in module_name.split("."))


@dataclass(frozen=True)
class Option:
    """One constructor option: its name, type, default and description (from the code)."""

    name: str
    type: str
    default: str
    description: str


def fmt_default(value: Any) -> str:
    if value is inspect.Parameter.empty or value is dataclasses.MISSING:
        return "required"
    if callable(value) and hasattr(value, "__qualname__"):
        return value.__qualname__
    text = repr(value)
    return re.sub(r" at 0x[0-9a-f]+", "", text)


def fmt_type(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ""
    if isinstance(annotation, str):
        return annotation
    return re.sub(r"\btyping\.", "", inspect.formatannotation(annotation))


def dataclass_options(cls: type, *more_owners: Any) -> list[Option]:
    out = []
    for f in dataclasses.fields(cls):
        if f.name == "type" and typing.get_origin(f.type) is None and "Literal" in str(f.type):
            continue
        if f.default is not dataclasses.MISSING:
            default = fmt_default(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            factory = f.default_factory
            default = f"{getattr(factory, '__qualname__', factory)}()"
        else:
            default = "required"
        out.append(Option(f.name, fmt_type(f.type), default, describe(f.name, cls, *more_owners)))
    return out


def signature_options(func: Callable[..., Any], *owners: Any, skip: tuple[str, ...] = ()) -> list[Option]:
    out = []
    for p in inspect.signature(func).parameters.values():
        if p.name in ("self", *skip) or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        out.append(Option(p.name, fmt_type(p.annotation), fmt_default(p.default), describe(p.name, *owners)))
    return out


def provider_classes() -> list[type]:
    """Concrete providers users construct: the ``Provider`` subclasses exported by the plugins and by
    ``livekitex_agent.providers`` (the fallback adapters)."""
    from livekitex_agent.providers.base import Provider

    found: dict[str, type] = {}
    for mod in modules():
        if not (mod.__name__.startswith(PACKAGE + ".plugins.") or mod.__name__ == PACKAGE + ".providers"):
            continue
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if (
                isinstance(obj, type)
                and issubclass(obj, Provider)
                and obj is not Provider
                and not inspect.isabstract(obj)
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


def referenced_dataclasses(options: list[Option], module: Any) -> list[type]:
    """Dataclasses named in the options' types (e.g. ``RetryPolicy``), resolved in ``module``."""
    out: list[type] = []
    for opt in options:
        for word in re.findall(r"[A-Z]\w+", opt.type):
            obj = getattr(module, word, None)
            if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj not in out:
                out.append(obj)
    return out


# ------------------------------------------------------------------ environment variables


@dataclass(frozen=True)
class EnvUse:
    name: str
    where: str  # repo-relative path
    description: str


def _line_comment(lines: list[str], lineno: int) -> str:
    line = lines[lineno - 1]
    if "#" in line:
        return line.split("#", 1)[1].strip()
    above = []
    n = lineno - 1
    while n >= 1 and lines[n - 1].strip().startswith("#"):
        above.insert(0, lines[n - 1].strip().lstrip("#").strip())
        n -= 1
    return " ".join(above)


def env_vars_in_source() -> list[EnvUse]:
    """Every ``LIVEKIT_*``/``LIVEKITEX_*``/``OPENAI_*`` string constant in ``src``, every such variable
    the set-up scripts read, and the test suite's own knobs (constants in ``tests`` that ``src`` does
    not name). The description is the comment of the constant's definition (``NAME = "VAR"  # what it
    does``, or the comment lines above it)."""
    found: dict[str, list[tuple[bool, str, str]]] = {}  # var → (is a definition, file, comment)
    _scan_python(sorted(SRC.rglob("*.py")), found)
    in_src = set(found)
    tests: dict[str, list[tuple[bool, str, str]]] = {}
    test_files = [
        p for p in sorted((ROOT / "tests").rglob("*.py")) if "docs" not in p.relative_to(ROOT).parts[1:2]
    ]
    _scan_python(test_files, tests)  # (tests/docs: the checks' samples name variables that do not exist)
    found.update({name: uses for name, uses in tests.items() if name not in in_src})
    _scan_shell(found)
    out = []
    for name in sorted(found):
        uses = sorted(found[name], key=lambda u: (not u[0], not u[2]))
        files = ", ".join(dict.fromkeys(u[1] for u in uses))
        out.append(EnvUse(name, files, uses[0][2]))
    return out


def _scan_python(paths: list[Path], found: dict[str, list[tuple[bool, str, str]]]) -> None:
    for path in paths:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and ENV_RE.match(node.value):
                line = lines[node.lineno - 1]
                definition = re.match(rf"^\s*[A-Z_][A-Z0-9_]*\s*(?::[^=]*)?=\s*[\"']{node.value}[\"']", line)
                found.setdefault(node.value, []).append(
                    (bool(definition), rel, _line_comment(lines, node.lineno))
                )


def _scan_shell(found: dict[str, list[tuple[bool, str, str]]]) -> None:
    scripts = sorted((ROOT / "scripts").glob("*.sh"))
    for path in scripts:
        lines = path.read_text(encoding="utf-8").splitlines()
        for line in lines:
            for name in re.findall(r"\$\{?((?:LIVEKIT|LIVEKITEX|OPENAI)_[A-Z0-9_]+)", line):
                if name in found:
                    continue
                comments = [
                    c.lstrip("# ").strip()
                    for p in scripts
                    for c in p.read_text(encoding="utf-8").splitlines()
                    if c.lstrip().startswith("#") and name in c
                ]
                found[name] = [(True, path.relative_to(ROOT).as_posix(), comments[0] if comments else "")]


# ------------------------------------------------------------------ command line


@dataclass(frozen=True)
class Flag:
    flags: str
    value: str
    default: str
    description: str


def cli_parser() -> argparse.ArgumentParser:
    from livekitex_agent import cli

    cli._load_extensions()
    return cli.build_parser()


def subcommands(parser: argparse.ArgumentParser) -> dict[str, tuple[str, argparse.ArgumentParser]]:
    out: dict[str, tuple[str, argparse.ArgumentParser]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                out[name] = (helps.get(name, ""), sub)
    return out


def flags_of(parser: argparse.ArgumentParser, describe_dest: Callable[[str], str]) -> list[Flag]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        if action.nargs == 0:
            value = ""
        elif action.choices is not None and not isinstance(action.choices, range) and action.metavar is None:
            value = "{" + ",".join(map(str, action.choices)) + "}"
        else:
            value = action.metavar or (action.type.__name__ if isinstance(action.type, type) else "VALUE")
        default = "" if action.default in (None, False) else repr(action.default)
        if action.required:
            default = "required"
        out.append(
            Flag(
                ", ".join(action.option_strings),
                str(value),
                default,
                action.help or describe_dest(action.dest),
            )
        )
    return out


def all_cli_flags() -> set[str]:
    """Every option string of the CLI (all subcommands)."""
    out: set[str] = set()
    for _, sub in subcommands(cli_parser()).values():
        for action in sub._actions:
            out.update(s for s in action.option_strings if s.startswith("--"))
    return out


def script_flags() -> set[str]:
    """Flags of the repository's own scripts (bench/, scripts/, examples/): ``add_argument("--x")``."""
    out: set[str] = set()
    for folder in ("bench", "scripts", "examples"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
                    out.update(
                        a.value
                        for a in node.args
                        if isinstance(a, ast.Constant) and str(a.value).startswith("--")
                    )
    return out


# ------------------------------------------------------------------ metrics


@dataclass(frozen=True)
class Metric:
    name: str
    type: str
    labels: tuple[str, ...]
    help: str
    samples: tuple[str, ...]  # the series names a scrape shows


_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
    "gauge": ("",),
    "info": ("_info",),
}


def worker_metrics() -> list[Metric]:
    """The metrics of the registry a worker builds (``WorkerMetrics``)."""
    from livekitex_agent.worker.metrics import WorkerMetrics

    registry = WorkerMetrics().registry
    out = []
    for collector in registry._collector_to_names:  # the collectors, in registration order
        kind = getattr(collector, "_type", "untyped")
        name = getattr(collector, "_name", "")
        if kind == "counter" and name.endswith("_total"):
            name = name[: -len("_total")]
        labels = tuple(getattr(collector, "_labelnames", ()))
        samples = tuple(name + s for s in _SUFFIXES.get(kind, ("",)))
        out.append(Metric(name, kind, labels, getattr(collector, "_documentation", ""), samples))
    return sorted(out, key=lambda m: m.name)


def iter_public_members(mod: Any) -> Iterator[tuple[str, Any]]:
    """``__all__`` if the module has one, else the public classes and functions defined in it."""
    names = getattr(mod, "__all__", None)
    if names is not None:
        for name in names:
            yield name, getattr(mod, name)
        return
    for name, obj in sorted(vars(mod).items()):
        if name.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if getattr(obj, "__module__", None) == mod.__name__:
            yield name, obj
