"""The docs match what runs: docs/cli.md names exactly the verbs and flags `hbctl --help` shows
(both ways), every `hbctl` command written in README.md and docs/ is one hbctl takes, every
document they point to is in the repository, and every verb has a human form and --json."""

from __future__ import annotations

import re
from pathlib import Path

from hil_tests.cli_run import hbctl
from hil_tests.test_interfaces import LATER_VERBS

ROOT = Path(__file__).resolve().parents[1]
CLI_DOC = (ROOT / "docs" / "cli.md").read_text()
GLOBAL = {"--port", "--timeout", "--secret-file", "--i2c"}
FLAG = re.compile(r"--[a-z][a-z0-9-]*")


def help_text(capsys, *verb: str) -> str:
    r = hbctl(capsys, *verb, "--help")
    assert r.code == 0 and r.err == "", r.err
    return r.out


def help_verbs(capsys) -> list[str]:
    text = help_text(capsys)
    block = text.split("COMMAND\n", 2)[-1].split("\noptions:")[0]
    return re.findall(r"^    ([a-z][a-z0-9-]*)\b", block, re.M)


def help_flags(capsys, *verb: str) -> set[str]:
    usage = help_text(capsys, *verb).split("\n\n")[0]  # the usage block: every flag, no prose
    return set(FLAG.findall(usage)) - {"--help"}


def doc_sections() -> dict[str, set[str]]:
    """verb -> flags of its synopsis (the first fenced block under `### hbctl VERB`)."""
    out = {}
    for m in re.finditer(r"^### `hbctl ([a-z-]+)`\n(.*?)(?=^### |^## |\Z)", CLI_DOC, re.M | re.S):
        synopsis = re.search(r"```\n(.*?)```", m.group(2), re.S)
        assert synopsis, f"docs/cli.md: `hbctl {m.group(1)}` has no synopsis block"
        out[m.group(1)] = set(FLAG.findall(synopsis.group(1))) - GLOBAL
    return out


def test_cli_md_and_help_name_the_same_verbs_and_flags(capsys):
    verbs = help_verbs(capsys)
    assert {"sim", "status", "freq", "heartbeat", "decode", "flash"} <= set(verbs)  # the reading works
    doc = doc_sections()
    assert sorted(doc) == sorted(verbs), "a verb in --help and not in docs/cli.md, or the other way"
    for verb in verbs:
        assert doc[verb] == help_flags(capsys, verb), verb
    glob = re.search(r"## Global options\n+```\n(.*?)```", CLI_DOC, re.S).group(1)
    assert set(FLAG.findall(glob)) == help_flags(capsys) == GLOBAL


def written_commands() -> list[tuple[str, str]]:
    """(file, command) for every `hbctl ...` in README.md and docs/ (code spans and code lines).
    interfaces.md is test_interfaces' (it names later issues' verbs too)."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if path.name == "interfaces.md":
            continue
        text = path.read_text()
        pieces = re.findall(r"`([^`\n]+)`", text) + re.findall(r"^(?: {4}|\t)(.+)$", text, re.M)
        pieces += re.findall(r"```\n(.*?)```", text, re.S)
        for piece in pieces:
            for line in piece.splitlines():
                m = re.search(r"(?:^|\s|/)hbctl((?:\s+\S+)*)", line)
                if m and m.group(1).strip():
                    found.append((path.name, "hbctl" + m.group(1).split("#")[0]))
    return found


def commands_of(cmd: str, verbs: set[str]) -> list[tuple[str, list[str]]]:
    """`hbctl [globals] verb args | verb2 args | --flag ...` -> [(verb, flags)]. After the first,
    a ` | ` piece that starts with a verb is another command (README's one-line summaries), one
    that starts with a flag continues the last, anything else is a shell pipe (`| head -1`)."""
    words = cmd.split()[1:]
    while words and words[0] in GLOBAL:
        del words[:2]  # a global option and its value
    if not words or not re.fullmatch(r"[a-z][a-z0-9-]*", words[0]):
        return []  # `hbctl --help`, a synopsis (`hbctl [--port PORT] ... VERB`), prose
    out: list[tuple[str, list[str]]] = []
    for piece in " ".join(words).split(" | "):
        head = piece.split()[0] if piece.split() else ""
        if not out or head in verbs:
            out.append((head, FLAG.findall(piece)))
        elif head.startswith("-"):
            out[-1][1].extend(FLAG.findall(piece))
        else:
            break
    return out


def test_every_hbctl_command_in_the_docs_is_one_hbctl_takes(capsys):
    verbs = set(help_verbs(capsys))
    flags = {v: help_flags(capsys, v) for v in verbs}
    cmds = written_commands()
    assert len(cmds) > 30 and any("heartbeat" in c for _, c in cmds)
    wrong = []
    for doc, cmd in cmds:
        for verb, used in commands_of(cmd, verbs):
            if verb in LATER_VERBS or not verb:
                continue
            if verb not in verbs:
                wrong.append((doc, cmd, f"no verb {verb!r}"))
            else:
                wrong += [(doc, cmd, f"{verb} has no {f}") for f in used if f not in flags[verb]]
    assert wrong == []


def test_the_docs_and_help_point_only_inside_the_repository(capsys):
    texts = {p.name: p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]}
    texts["--help"] = "\n".join(help_text(capsys, *v) for v in [[], *([v] for v in help_verbs(capsys))])
    known = {p.name for p in (ROOT / "docs").glob("*.md")} | {"README.md"}
    outside = {(where, name) for where, text in texts.items()
               for name in re.findall(r"[\w./-]*?([\w-]+\.md)\b", text) if name not in known}
    assert outside == set()
    assert "shared/reference" not in "".join(texts.values())


def test_every_verb_has_a_human_form_and_json(capsys):
    assert all("--json" in help_flags(capsys, v) for v in help_verbs(capsys))
