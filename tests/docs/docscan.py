"""Reading the Markdown docs for the checks: code blocks, links, anchors, names and test node ids.

Pure functions over text, so the checks can also be run on small broken samples.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KNOWN_INFO = {
    "python",
    "python fragment",
    "bash",
    "sh",
    "console",
    "text",
    "json",
    "yaml",
    "toml",
    "ini",
    "mermaid",
}


def doc_files(root: Path = ROOT) -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def rel(path: Path, root: Path = ROOT) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence (1-based)
    info: str
    code: str

    @property
    def where(self) -> str:
        return f"{rel(self.path)}:{self.line}"


_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*(.*?)\s*$")


def code_blocks(text: str, path: Path = Path("<text>")) -> list[Block]:
    """The fenced code blocks of a Markdown text, with their info string and first line."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info, start = m.group(2), m.group(3), i
        body: list[str] = []
        i += 1
        while i < len(lines) and not re.match(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[i]):
            body.append(lines[i][len(m.group(1)) :] if lines[i].startswith(m.group(1)) else lines[i])
            i += 1
        blocks.append(Block(path, start + 1, " ".join(info.split()), "\n".join(body) + "\n"))
        i += 1
    return blocks


def prose(text: str) -> str:
    """The text without its fenced code blocks (their lines blanked, so line numbers hold)."""
    out, inside, fence = [], False, ""
    for line in text.splitlines():
        m = _FENCE.match(line)
        if m and (not inside or m.group(2)[0] == fence[0] and not m.group(3)):
            inside, fence = (not inside), m.group(2)
            out.append("")
            continue
        out.append("" if inside else line)
    return "\n".join(out)


def inline_code(text: str) -> list[tuple[int, str]]:
    """(line, content) of every inline code span outside fenced blocks."""
    out = []
    for n, line in enumerate(prose(text).splitlines(), 1):
        for m in re.finditer(r"(`+)(.+?)\1", line):
            out.append((n, m.group(2).strip()))
    return out


# ------------------------------------------------------------------ links and anchors


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading)  # inline HTML
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = text.replace("`", "").strip().lower()
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in (" ", "-", "_") or cat[0] in ("L", "N") or cat == "Mn":
            out.append("-" if ch == " " else ch)
    return "".join(out)


def anchors(text: str) -> set[str]:
    """Every anchor a Markdown text defines: heading slugs (with GitHub's -1, -2 for repeats) and
    explicit ``<a id/name="...">``."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for line in prose(text).splitlines():
        m = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            slug = github_slug(m.group(1))
            n = seen.get(slug, 0)
            out.add(slug if n == 0 else f"{slug}-{n}")
            seen[slug] = n + 1
        for a in re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", line):
            out.add(a)
    return out


def links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every inline link, image and link reference definition outside code."""
    out = []
    for n, line in enumerate(prose(text).splitlines(), 1):
        ref = re.match(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", line)
        if ref:
            out.append((n, ref.group(1)))
            continue
        line = re.sub(r"(`+).+?\1", "", line)
        for m in re.finditer(
            r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", line
        ):
            out.append((n, m.group(1)))
    return out


def dead_links(path: Path, text: str, read: dict[Path, str] | None = None) -> list[str]:
    """Relative links of ``text`` (at ``path``) whose file or ``#anchor`` does not exist."""
    problems = []
    for line, target in links(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        where = f"{rel(path)}:{line}: [{target}]"
        if file_part and not dest.exists():
            problems.append(f"{where}: {file_part} does not exist")
            continue
        if anchor:
            if file_part and (dest.is_dir() or dest.suffix != ".md"):
                if not dest.is_dir() and re.fullmatch(r"L\d+(?:-L\d+)?", anchor):
                    continue  # GitHub's line anchors into source files
                problems.append(f"{where}: an anchor into a file that is not Markdown")
                continue
            dest_text = text if not file_part else (read or {}).get(dest) or dest.read_text(encoding="utf-8")
            if anchor not in anchors(dest_text):
                problems.append(f"{where}: no heading or anchor #{anchor} in {rel(dest)}")
    return problems


# ------------------------------------------------------------------ test node ids

NODE_ID = re.compile(r"`(tests/[\w./-]+\.py)::([\w:]+)(?:\[[^\]`]*\])?`")


def node_ids(text: str) -> list[tuple[int, str, str]]:
    """(line, file, "name" or "Class::name") of every test node id written in backticks."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2)) for m in NODE_ID.finditer(text)]


def node_id_exists(root: Path, file: str, name: str) -> str | None:
    """None if ``file::name`` names a test function (or ``Class::method``), else why not."""
    path = root / file
    if not path.exists():
        return f"{file} does not exist"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    scope: list[ast.stmt] = tree.body
    parts = name.split("::")
    for i, part in enumerate(parts):
        found = next(
            (
                n
                for n in scope
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == part
            ),
            None,
        )
        if found is None:
            return f"{file} has no {'::'.join(parts[: i + 1])}"
        scope = found.body if isinstance(found, ast.ClassDef) else []
    return None


# ------------------------------------------------------------------ names the docs use

ENV_IN_DOCS = re.compile(r"\b((?:LIVEKIT|LIVEKITEX|OPENAI)_[A-Z0-9_]*[A-Z0-9])\b")
METRIC_IN_DOCS = re.compile(r"^livekitex_(?!agent\b)(?!agent[._])[a-z0-9_]+$")
DOTTED = re.compile(r"^livekitex_agent(?:\.[A-Za-z_]\w*)+$")
EVENT_CALL = re.compile(r"""\.(?:on|once|off|emit)\(\s*["']([a-z_]+)["']""")
OPTION_CALL = re.compile(r"\b(AgentSession|WorkerOptions|SessionOptions)\(([^()`]*)\)")
FLAG = re.compile(r"^(--[a-z][a-z0-9-]*)(?:[ =].*)?$")
IDENTIFIER = re.compile(r"^@?([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\(\))?$")
CLI_LINE = re.compile(
    r"(?:python3?\s+\S+\.py|python3?\s+-m\s+livekitex_agent|livekitex-agent)\s+([a-z]+)\b(.*)"
)
REPO_PATH = re.compile(r"^((?:src|tests|bench|scripts|docs|examples)/[\w./-]+)$")


@dataclass(frozen=True)
class Mention:
    where: str
    kind: str
    name: str


def mentions(text: str, path: Path = Path("<text>")) -> list[Mention]:
    """The names a doc writes that must exist in the code: env vars, ``.on("event")`` and
    ``AgentSession(option=...)``-style options (anywhere, code blocks included); the subcommands and
    flags of CLI command lines in bash blocks; and in inline code spans: ``--flags``, metric names,
    ``livekitex_agent.x.y`` paths, repository paths, ``XxxEvent`` names and snake_case identifiers
    (methods, options, fields: ``session.generate_reply()``)."""
    out: list[Mention] = []
    where = rel(path)
    for n, line in enumerate(text.splitlines(), 1):
        for name in ENV_IN_DOCS.findall(line):
            out.append(Mention(f"{where}:{n}", "env", name))
        for name in EVENT_CALL.findall(line):
            out.append(Mention(f"{where}:{n}", "event", name))
        for cls, args in OPTION_CALL.findall(line):
            for kw in re.findall(r"(?:^|,)\s*([a-z_]\w*)\s*=", args):
                out.append(Mention(f"{where}:{n}", f"option:{cls}", kw))
    for block in code_blocks(text, path):
        if block.info not in ("bash", "sh", "console"):
            continue
        for i, line in enumerate(block.code.splitlines(), block.line + 1):
            m = CLI_LINE.search(line)
            if m:
                out.append(Mention(f"{where}:{i}", "command", m.group(1)))
                out += [
                    Mention(f"{where}:{i}", f"flag:{m.group(1)}", f)
                    for f in re.findall(r"(?<!\S)(--[a-z][a-z0-9-]*)", m.group(2))
                ]
    for n, span in inline_code(text):
        loc = f"{where}:{n}"
        m = IDENTIFIER.match(span)
        if m and not span.startswith("livekitex_"):  # metric names and dotted paths: checked below
            # snake_case names (methods, options, fields, modules) must exist in the code
            out += [
                Mention(loc, "identifier", part)
                for part in m.group(1).split(".")
                if "_" in part.strip("_") and part != part.upper()  # UPPER_CASE: env vars, metavars
            ]
        m = FLAG.match(span)
        if m:
            out.append(Mention(loc, "flag", m.group(1)))
        if METRIC_IN_DOCS.match(span):
            out.append(Mention(loc, "metric", span))
        if DOTTED.match(span):
            out.append(Mention(loc, "dotted", span))
        m = REPO_PATH.match(span.split("::")[0])
        if m and "*" not in span and "<" not in span:
            out.append(Mention(loc, "path", m.group(1).rstrip("/.")))
        if re.fullmatch(r"[A-Z]\w*Event", span):
            out.append(Mention(loc, "event_class", span))
    return out
