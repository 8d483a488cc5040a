"""Every name docs/interfaces.md fixes (a copy of the shared contract) is checked against the code:
hbctl verbs and flags, the status and info documents, fault specs, the Python test API. The
names are read from the document itself, so a name added there is checked here without a change.

Names the contract fixes for later issues are listed in LATER_*; each list is asserted to be
exactly what is missing, so this test fails as soon as one arrives, until it leaves the list.
Covered elsewhere: `hbctl sim`'s first line (test_packaging), `flash --json` (test_update),
`decode` lines (test_jobs_and_decode)."""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import itertools
import re
from pathlib import Path

import pytest

from hostlib.cli import build_parser
from hostlib.link import Link
from hostlib.sim import VirtualBoard
from hostlib.sim.faults import FaultSpecError

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "interfaces.md").read_text()
FIRMWARE_SRC = "\n".join(p.read_text() for p in (ROOT / "firmware").rglob("*.py"))

# fixed by interfaces.md for later issues (diagnostics, tuning, security, fleet), not built yet
LATER_VERBS: set[str] = set()  # gateway is built (issue 16)
LATER_FLAGS: set[tuple[str, str]] = set()  # --new-secret and --secret-file are built (issue 15)
LATER_FAULT_KINDS: set[str] = set()  # aging and cooling are built (issue 14)


def section(title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", DOC, re.M | re.S)
    assert m, f"interfaces.md has no section {title!r}"
    return m.group(1)


def spans(text: str) -> list[str]:
    """Inline code spans (they may wrap a line); fenced blocks are not spans."""
    return re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))


# ---------------------------------------------------------------------------- hbctl
def documented_cli() -> dict[str, set[str]]:
    """verb -> flags, from every `hbctl ...` span ("" holds the global options)."""
    cli: dict[str, set[str]] = {"": set(re.findall(r"global option `(--[a-z-]+)", DOC))}
    for span in spans(DOC):
        words = span.split()
        if words[:1] != ["hbctl"] or len(words) < 2:
            continue
        rest = words[1:]
        while rest and rest[0].startswith("--"):  # global options before the verb: --port PORT
            cli[""].add(rest.pop(0))
            if rest and rest[0].isupper():
                rest.pop(0)
        verb = rest[0]
        cli.setdefault(verb, set()).update(re.findall(r"--[a-z][a-z0-9-]*", " ".join(rest[1:])))
    for verb in re.findall(r"`hbctl [^`]*` / `([a-z]+)`", DOC):  # `hbctl --port PORT lock` / `unlock`
        cli.setdefault(verb, set())
    return cli


def built_cli() -> dict[str, set[str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))

    def flags(p: argparse.ArgumentParser) -> set[str]:
        return {o for a in p._actions for o in a.option_strings}

    return {"": flags(parser), **{verb: flags(p) for verb, p in sub.choices.items()}}


def test_every_documented_hbctl_verb_and_flag_exists():
    doc, built = documented_cli(), built_cli()
    assert {"sim", "status", "info", "modules", "events", "power", "curtail", "resume", "flash", "bundle",
            "provision", "decode"} <= set(doc) and "--chip-profile" in doc["sim"]  # the reading works
    missing_verbs = set(doc) - set(built)
    missing_flags = {(verb, f) for verb, fl in doc.items() if verb in built for f in fl - built[verb]}
    assert missing_verbs == LATER_VERBS, "a verb is missing, or a later one arrived: update LATER_VERBS"
    assert missing_flags == LATER_FLAGS, "a flag is missing, or a later one arrived: update LATER_FLAGS"


# ---------------------------------------------------------------------------- documents
class _Null:
    """`null` in the document's type sketches: `int|null`, `null | {...}`."""

    def __or__(self, other):
        return Maybe(other)

    __ror__ = __or__


class Maybe:
    def __init__(self, inner) -> None:
        self.inner = inner


def sketch(text: str):
    """The document's `{"key": type, ...}` sketch as a tree of dicts, lists, types and Maybe."""
    names = {"str": str, "int": int, "float": float, "bool": bool, "null": _Null()}
    return eval(text, {"__builtins__": {}}, names)  # noqa: S307 - our own document, no builtins


def conforms(value, shape, path: str = "") -> list[str]:
    if isinstance(shape, Maybe):
        return [] if value is None else conforms(value, shape.inner, path)
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{path or 'document'}: {type(value).__name__}, not an object"]
        return [p for k, s in shape.items()
                for p in ([f"{path}.{k} missing"] if k not in value else conforms(value[k], s, f"{path}.{k}"))]
    if isinstance(shape, list):
        if not isinstance(value, list) or (not value and isinstance(shape[0], dict)):
            return [f"{path}: not a list, or no entries"]
        return [p for i, v in enumerate(value) for p in conforms(v, shape[0], f"{path}[{i}]")]
    if isinstance(shape, set):  # {"min", "max"}: keys only
        if not isinstance(value, dict):
            return [f"{path}: not an object"]
        return [f"{path}.{k} missing" for k in shape - set(value)]
    if shape in (int, float):  # JSON has one number type: an int is a float too, a bool neither
        ok = isinstance(value, (int, float) if shape is float else int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, shape)
    return [] if ok else [f"{path}: {value!r} is not {shape.__name__}"]


@pytest.fixture(scope="module")
def documents(board_target, shared_vboard):
    """status and info of the board under test (the shared virtual board by default)."""
    with Link(shared_vboard.port if shared_vboard else board_target, timeout=10.0) as link:
        return link.request("status"), link.request("info")


def test_status_document_has_every_documented_key_and_type(documents):
    block = re.search(r"```\n(.*?)```", section("Status document"), re.S).group(1)
    shape = sketch(block)
    assert {"board", "modules", "chains", "regulators", "temps", "chips"} <= set(shape)
    assert conforms(documents[0], shape) == []


def test_documented_states_and_causes_are_the_firmwares_words():
    text = section("Status document")
    names = set()
    for m in re.finditer(r"(?:state` is one of at least|`cause` is one of) ((?:`[a-z_]+`[,.\s]*(?:and |or )?)+)", text):
        names |= set(re.findall(r"`([a-z_]+)`", m.group(1)))
    assert {"booting", "incompatible", "no_response", "unstable"} <= names
    absent = {n for n in names if not re.search(rf"['\"]{n}['\"]", FIRMWARE_SRC)}
    assert absent == set()


def test_info_document_has_the_documented_limits_and_app_block(documents):
    info = documents[1]
    limits = sketch(next(s for s in spans(section("`hbctl`")) if s.startswith('{"thermal"')))
    assert conforms(info["limits"], limits, "limits") == []
    assert {"board", "firmware", "protocol", "runtime", "limits"} <= set(info)
    assert {"version", "bundle", "trial"} <= set(info["app"])


# ---------------------------------------------------------------------------- fault specs
EXAMPLE = {"M": "1", "I": "3", "NAME": "m1.inlet", "RATE": "0.01", "CELSIUS": "31", "FRACTION": "0.8",
           "MHZ_PER_HOUR": "5", "FACTOR": "1.5"}


def documented_fault_specs() -> list[str]:
    """Every spec form of the section, placeholders filled in, `a|b` alternatives expanded."""
    out = []
    for span in spans(section("Fault specs")):
        if not re.match(r"[a-z]+:", span):
            continue
        parts = [[re.sub(r"[A-Z][A-Z_]*", lambda m: EXAMPLE[m.group()], alt) for alt in part.split("|")]
                 for part in span.split(":")]
        out += [":".join(p) for p in itertools.product(*parts)]
    return out


def test_every_documented_fault_spec_is_accepted_and_cleared():
    specs = documented_fault_specs()
    assert len(specs) >= 17 and "vrm:1:nack" in specs and "sensor:m1.inlet:stuck" in specs
    vb = VirtualBoard()  # not started: faults land in the emulators only
    refused = {}
    for spec in specs:
        try:
            vb.inject(spec)
            vb.clear(spec)
        except FaultSpecError as e:
            refused[spec.split(":")[0]] = str(e)
    assert set(refused) == LATER_FAULT_KINDS, refused
    for bad in ("chip:9.0:dead", "chip:1.3:melted", "bogus:1"):
        with pytest.raises(FaultSpecError, match=re.escape(repr(bad))):
            vb.inject(bad)


# ---------------------------------------------------------------------------- Python API
def _call(text: str) -> ast.Call:
    node = ast.parse(text, mode="eval").body
    assert isinstance(node, ast.Call), text
    return node


def test_python_api_names_signature_and_methods():
    text = section("Python test API")
    ctor = _call(next(s for s in spans(text) if s.startswith("hostlib.sim.VirtualBoard(")))
    module, _, name = ast.unparse(ctor.func).rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    params = inspect.signature(cls).parameters
    for kw in ctor.keywords:
        assert kw.arg in params and params[kw.arg].default == ast.literal_eval(kw.value), kw.arg
    assert hasattr(cls, "__enter__") and hasattr(cls, "__exit__")  # a context manager
    members = [s[1:] for s in spans(text) if s.startswith(".")]
    assert len(members) >= 8, members
    vb = cls()
    for member in members:
        if "(" not in member:
            assert hasattr(vb, member), member
            continue
        call = _call(member)
        method = getattr(cls, ast.unparse(call.func))
        got = list(inspect.signature(method).parameters.values())[1:]
        want = [a.id for a in call.args] + [k.arg for k in call.keywords]
        assert [p.name for p in got[:len(want)]] == want, member
        for k in call.keywords:
            assert got[want.index(k.arg)].default == ast.literal_eval(k.value), member
