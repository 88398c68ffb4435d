"""Links and anchors resolve, test node ids exist, and the docs and the code name the same things."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from codenames import CodeNames, collect, resolves
from docscan import (
    ROOT,
    Mention,
    anchors,
    dead_links,
    doc_files,
    github_slug,
    mentions,
    node_id_exists,
    node_ids,
    rel,
)


@pytest.fixture(scope="module")
def code() -> CodeNames:
    return collect()


@pytest.fixture(scope="module")
def docs() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in doc_files()}


def test_links_and_anchors_resolve(docs: dict[Path, str]) -> None:
    problems = [p for path, text in docs.items() for p in dead_links(path, text, docs)]
    assert not problems, "\n".join(problems)


def test_test_node_ids_exist(docs: dict[Path, str]) -> None:
    problems = []
    for path, text in docs.items():
        for line, file, name in node_ids(text):
            why = node_id_exists(ROOT, file, name)
            if why:
                problems.append(f"{rel(path)}:{line}: `{file}::{name}`: {why}")
    assert not problems, "\n".join(problems)


def unknown_names(found: list[Mention], code: CodeNames, root: Path = ROOT) -> list[str]:
    """The mentions that name nothing in the code."""
    out = []
    for m in found:
        bad = False
        if m.kind == "env":
            bad = m.name not in code.env
        elif m.kind == "event":
            bad = m.name not in code.events
        elif m.kind == "event_class":
            bad = m.name not in code.event_classes
        elif m.kind.startswith("option:"):
            bad = m.name not in code.options[m.kind.split(":", 1)[1]]
        elif m.kind == "flag":
            bad = m.name not in code.flags
        elif m.kind == "metric":
            bad = m.name not in code.metric_series
        elif m.kind == "dotted":
            bad = not resolves(m.name)
        elif m.kind == "path":
            bad = not (root / m.name).exists()
        elif m.kind == "identifier":
            bad = m.name not in code.identifiers
        elif m.kind == "command":
            bad = m.name not in code.commands
        elif m.kind.startswith("flag:"):
            bad = m.name not in code.commands.get(m.kind.split(":", 1)[1], set())
        if bad:
            out.append(f"{m.where}: {m.kind} {m.name!r} does not exist in the code")
    return out


def test_every_name_the_docs_use_exists(docs: dict[Path, str], code: CodeNames) -> None:
    problems = [p for path, text in docs.items() for p in unknown_names(mentions(text, path), code)]
    assert not problems, "\n".join(problems)


def test_every_public_name_of_the_code_is_documented(docs: dict[Path, str], code: CodeNames) -> None:
    text = "\n".join(docs.values())
    words = set(re.findall(r"[A-Za-z_][\w-]*", text))
    missing = []
    for kind, names in (
        ("event", code.events),
        ("env var", code.env),
        ("CLI flag", code.cli_flags),
        ("metric", code.metrics),
        ("public class", code.public_classes),
        *((f"{owner} option", opts) for owner, opts in code.options.items()),
    ):
        missing += [
            f"{kind} {n}" for n in sorted(names) if n not in words and f"--{n.lstrip('-')}" not in text
        ]
    assert not missing, "not in docs/ (run scripts/gen_docs.py, or document it):\n" + "\n".join(missing)


# ------------------------------------------------------------------ the checks on broken samples


def test_github_slugs() -> None:
    assert github_slug("FR-008: Errors & recovery") == "fr-008-errors--recovery"
    assert github_slug("The `AgentSession` life cycle") == "the-agentsession-life-cycle"
    assert github_slug("[Linked](x.md) heading!") == "linked-heading"
    assert anchors('# A\n## A\n```\n# not a heading\n```\n<a id="x"></a>\n') == {"a", "a-1", "x"}


def test_a_dead_link_or_anchor_is_reported(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Present\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    doc = tmp_path / "doc.md"
    text = (
        "# Top\n[ok](other.md#present) [self](#top) [web](https://example.com/#x)\n"
        "[gone](missing.md) [bad anchor](other.md#absent)\n`[in code](nowhere.md)`\n"
        "```\n[in a block](nowhere.md)\n```\n[dead self](#nope) [line](code.py#L1) [bad](code.py#top)\n"
        "[ref]: missing-too.md\n"
    )
    assert dead_links(doc, text) == [
        f"{doc}:3: [missing.md]: missing.md does not exist",
        f"{doc}:3: [other.md#absent]: no heading or anchor #absent in {tmp_path / 'other.md'}",
        f"{doc}:8: [#nope]: no heading or anchor #nope in {doc}",
        f"{doc}:8: [code.py#top]: an anchor into a file that is not Markdown",
        f"{doc}:9: [missing-too.md]: missing-too.md does not exist",
    ]


def test_a_missing_test_node_id_is_reported(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        "def test_a(): pass\nclass TestB:\n    def test_c(self): pass\n"
    )
    text = "`tests/test_x.py::test_a` `tests/test_x.py::TestB::test_c` `tests/test_x.py::test_gone[p1]`\n`tests/nope.py::test_a`"
    found = node_ids(text)
    assert [(n, f) for _, f, n in found] == [
        ("test_a", "tests/test_x.py"),
        ("TestB::test_c", "tests/test_x.py"),
        ("test_gone", "tests/test_x.py"),
        ("test_a", "tests/nope.py"),
    ]
    results = [node_id_exists(tmp_path, f, n) for _, f, n in found]
    assert results == [None, None, "tests/test_x.py has no test_gone", "tests/nope.py does not exist"]


def test_unknown_names_in_a_doc_are_reported(code: CodeNames) -> None:
    sample = (
        "Set `LIVEKIT_URL` and `LIVEKITEX_NO_SUCH_VAR`; pass `--http-port 0` or `--no-such-flag`.\n"
        "Watch `livekitex_worker_load` and `livekitex_no_such_metric`; see `livekitex_agent.session.AgentSession` "
        "and `livekitex_agent.session.NoSuchThing`, `src/livekitex_agent/cli.py` and `src/nowhere.py`.\n"
        '`session.on("agent_state_changed")` and `session.on("no_such_event")`, `CloseEvent` and `NoSuchEvent`.\n'
        "`AgentSession(min_endpointing_delay=0.3, no_such_option=1)` and `WorkerOptions(entrypoint=f, bogus=2)`\n"
        "Call `session.generate_reply()`, not `session.generate_answer_now()`.\n"
        "```bash\npython agent.py start --load-threshold 0.5 --no-such-start-flag\n"
        "python -m livekitex_agent console --input-wav in.wav\npython agent.py launch\n```\n"
    )
    problems = unknown_names(mentions(sample), code)
    assert sorted(p.split(": ", 1)[1] for p in problems) == sorted(
        [
            "env 'LIVEKITEX_NO_SUCH_VAR' does not exist in the code",
            "event 'no_such_event' does not exist in the code",
            "option:AgentSession 'no_such_option' does not exist in the code",
            "option:WorkerOptions 'bogus' does not exist in the code",
            "flag '--no-such-flag' does not exist in the code",
            "metric 'livekitex_no_such_metric' does not exist in the code",
            "dotted 'livekitex_agent.session.NoSuchThing' does not exist in the code",
            "path 'src/nowhere.py' does not exist in the code",
            "flag:start '--no-such-start-flag' does not exist in the code",
            "command 'launch' does not exist in the code",
            "identifier 'generate_answer_now' does not exist in the code",
            "event_class 'NoSuchEvent' does not exist in the code",
        ]
    )
