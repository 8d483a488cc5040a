"""Deploy a bundle over the MicroPython raw REPL (mpremote's transport as a library), into the app
slot that is not running, then commit it as a trial app (docs/update.md).

Order of board operations, each a step a power cut may end:
  1. a pending, unconfirmed trial in the target slot is withdrawn (state file, one rename);
  2. per file: skip if the target slot already holds it (same SHA-256), else copy it on the board
     from the running slot if that one holds it, else send it over the link;
  3. files the manifest does not list are removed from the slot (stale .py would shadow .mpy);
  4. every file of the slot is hashed on the board and compared; mismatches are sent again;
  5. the slot manifest is written (temp + rename); loader files at the root likewise if changed;
  6. commit: the state file names the slot as trial (one rename);
  7. soft reset: bootsel boots the trial app, which confirms itself or is reverted.
Until 6 the board boots what it booted before; after 6 it boots the complete, verified trial.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import flashcheck, portlock
from .bundle import LOADER, Bundle, sha256, slot_bytes
from .errors import HbError

SLOTS = ("a", "b")

# Board-side helpers, sent once per session into the raw REPL's globals.
_HELPERS = r"""
import os, json, hashlib
_b = bytearray(512)
def _h(p):
    h = hashlib.sha256(); mv = memoryview(_b)
    with open(p, 'rb') as f:
        while True:
            n = f.readinto(_b)
            if not n:
                break
            h.update(mv[:n])
    return ''.join('%02x' % x for x in h.digest())
def _tree(d, pre, files, dirs):
    try:
        it = list(os.ilistdir(d))
    except OSError:
        return
    dirs.append(d)
    for e in it:
        p = d + '/' + e[0]
        if e[1] == 0x4000:
            _tree(p, pre + e[0] + '/', files, dirs)
        else:
            files[pre + e[0]] = p
def _walk(d, pre, out):
    f = {}
    _tree(d, pre, f, [])
    for k in f:
        out[k] = _h(f[k])
def _mk(p):
    q = ''
    for part in p.split('/'):
        q = q + '/' + part if q else part
        try:
            os.mkdir(q)
        except OSError:
            pass
def _cp(s, d):
    with open(s, 'rb') as fi, open(d, 'wb') as fo:
        while True:
            n = fi.readinto(_b)
            if not n:
                break
            fo.write(memoryview(_b)[:n])
def _rn(t, p):
    try:
        os.rename(t, p)
    except OSError:
        try:
            os.remove(p)
        except OSError:
            pass
        os.rename(t, p)
def _rmtree(d):
    f = {}
    ds = []
    _tree(d, '', f, ds)
    for k in f:
        os.remove(f[k])
    for x in reversed(ds):
        os.rmdir(x)
"""


class FlashError(HbError):
    pass


@dataclass
class FlashReport:
    slot: str
    previous: str | None
    sent: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    loader_sent: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    seconds: float = 0.0
    up_to_date: bool = False


REPL_TIMEOUT = 10.0  # seconds for the board to reach the raw REPL after Ctrl-C


def _transport(port: str, repl_timeout: float = REPL_TIMEOUT):
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport

    try:
        # a read timeout: on a pty mpremote reads byte by byte, and without one a silent board
        # (powered off, wedged) would block the host forever instead of failing in one line
        t = SerialTransport(port, baudrate=115200, timeout=1)
    except Exception as e:  # noqa: BLE001 - mpremote raises bare Exception for open failures
        if portlock.holder(port) is not None:  # mpremote opens exclusively too: say who has it
            raise portlock.busy(port) from None
        raise FlashError(f"cannot open {port}: {e}") from None
    try:
        # Ctrl-C stops the controller (it powers every module down first), then the raw REPL.
        # mpremote prints what it got before it gives up: kept out of stdout (--json is ours)
        with contextlib.redirect_stdout(io.StringIO()) as said:
            t.enter_raw_repl(soft_reset=False, timeout_overall=repl_timeout)
    except TransportError as e:
        t.close()
        got = said.getvalue().strip()
        if "board locked" in got:
            raise FlashError(f"board on {port} is locked: unauthorized without its secret "
                             "(hbctl --secret-file FILE flash, or HBCTL_SECRET_FILE)") from None
        raise FlashError(f"board on {port} does not answer at the REPL: {e}"
                         + (f" (it sent {got})" if got and got != "b''" else " (it sent nothing)")) from None
    return t


def open_repl(port: str, secret: bytes) -> None:
    """A locked board (docs/security.md) opens its REPL until its next reset for an authorized
    `repl` request; an unlocked one answers Ctrl-C as it always did."""
    from .link import Link

    with Link(port, secret=secret) as ln:
        if (ln.request("info").get("security") or {}).get("locked"):
            ln.request("repl")
            time.sleep(0.3)  # the controller powers the modules down, then the REPL prompt


class Session:
    """One raw-REPL session with helpers loaded; every call returns decoded output."""

    def __init__(self, port: str, repl_timeout: float = REPL_TIMEOUT) -> None:
        self.t = _transport(port, repl_timeout)
        self.run(_HELPERS)

    def run(self, code: str) -> str:
        from mpremote.transport import TransportExecError

        try:
            return self.t.exec(code).decode()
        except TransportExecError as e:
            raise FlashError(f"board error: {e.error_output.strip().splitlines()[-1]}") from None

    def json(self, code: str):
        return json.loads(self.run(code).strip().splitlines()[-1])

    def write(self, path: str, data: bytes, progress: Callable[[int, int], None] | None = None) -> None:
        self.t.fs_writefile(path, data, chunk_size=512, progress_callback=progress)

    def close(self, reset: bool) -> None:
        try:
            self.t.exit_raw_repl()
            if reset:
                self.t.serial.write(b"\x04")  # soft reset from the friendly REPL: boot.py, main.py
                time.sleep(0.1)
        finally:
            self.t.close()


def survey(s: Session) -> dict:
    """State file, per-slot file hashes and loader hashes on the board."""
    return s.json(
        "r = {}\n"
        "for sl in ('a', 'b'):\n"
        "    o = {}\n    _walk('apps/' + sl, '', o)\n    r[sl] = o\n"
        "ro = {}\n"
        "for n in ('boot.py', 'main.py', 'bootsel.py', 'sigcheck.py', 'romcache.py', 'hbmain.py', 'hbmain.mpy'):\n"
        "    try:\n        ro[n] = _h(n)\n    except OSError:\n        pass\n"
        "try:\n    st = json.loads(open('apps/state.json').read())\nexcept (OSError, ValueError):\n    st = {}\n"
        "bd = {}\n"
        "for k, n in (('identity', 'identity.json'), ('factory', 'board.json')):\n"
        "    try:\n        bd[k] = json.loads(open(n).read())\n    except (OSError, ValueError):\n        pass\n"
        "print(json.dumps({'slots': r, 'root': ro, 'state': st, 'boards': bd}))\n")


def own_board(info: dict) -> tuple[str | None, bool]:
    """The board definition the board was made for, as its loader decides it (bootsel.own_board):
    (name or None, fixed by a provisioned identity)."""
    ident = info.get("boards", {}).get("identity")
    if isinstance(ident, dict) and isinstance(ident.get("board"), str):
        return ident["board"], True
    if isinstance(info["state"].get("board"), str):
        return info["state"]["board"], False
    factory = info.get("boards", {}).get("factory")
    if isinstance(factory, dict) and isinstance(factory.get("name"), str):
        return factory["name"], False
    return None, False


def check_board(info: dict, b: Bundle, force: bool, warn: Callable[[str], None]) -> str | None:
    """Refuse a bundle made for another board; on a development board `force` lets it through
    (returned: the board name the loader is told to allow). A provisioned board never takes it."""
    want, fixed = own_board(info)
    have = b.manifest["board"]
    if want is None or want == have:
        return None
    if fixed:
        raise FlashError(f"bundle is for board {have}, but this board is provisioned as {want}: refused")
    if not force:
        raise FlashError(f"bundle is for board {have}, but this board runs {want} "
                         "(--force installs it anyway on a development board)")
    warn(f"warning: installing a {have} bundle on a board that ran {want} (--force)")
    return have


def _holds(hashes: dict, b: Bundle) -> bool:
    return all(hashes.get(k) == m["sha256"] for k, m in b.manifest["files"].items())


def _state_write(s: Session, st: dict) -> None:
    s.run(f"_mk('apps')\nwith open('apps/state.json.tmp', 'w') as f:\n    f.write({json.dumps(json.dumps(st))})\n"
          "_rn('apps/state.json.tmp', 'apps/state.json')\n")


def deploy(port: str, b: Bundle, progress: Callable[[int, int, str], None] | None = None,
           on_step: Callable[[str], None] | None = None, reset: bool = True,
           force: bool = False, warn: Callable[[str], None] | None = None,
           repl_timeout: float = REPL_TIMEOUT, secret: bytes | None = None) -> FlashReport:
    """Install bundle b on the board at port; see the module docstring for the order.
    secret: the board's; a locked board opens its REPL for this session only when asked with it.
    force: send every file over the link (no skipping, no on-board copies), and install a
    bundle made for another board on a development board."""
    step = on_step or (lambda name: None)
    t0 = time.monotonic()
    why = flashcheck.refusal(port, b)
    if why is not None:
        raise FlashError(f"bundle refused by the board: {why}; nothing was stopped, the running app "
                         "keeps running")
    if secret is not None:
        open_repl(port, secret)
    s = Session(port, repl_timeout)
    try:
        info = survey(s)
        allow = check_board(info, b, force, warn or (lambda m: print(m, file=sys.stderr)))
        # every key the loader keeps: the downgrade counter (min_seq) above all, never dropped
        st = dict(info["state"])
        for k in ("confirmed", "trial", "tries", "reverted", "board"):
            st.setdefault(k, None)
        if st["board"] is None:
            del st["board"]
        if st["confirmed"] not in SLOTS:
            st["confirmed"] = None
        active = st["confirmed"]
        target = "a" if active != "a" else "b"
        rep = FlashReport(slot=target, previous=active)
        if not force and active is not None and st.get("trial") is None and _holds(info["slots"][active], b) and all(
                info["root"].get(n) == m["sha256"] for n, m in b.manifest["loader"].items()):
            rep.slot, rep.up_to_date = active, True  # already running this bundle, intact
            rep.skipped = sorted(b.files)  # every file was checked and left as it is
            s.close(reset)  # the controller was interrupted for the survey: start it again
            if reset:
                await_app(port)
            rep.seconds = time.monotonic() - t0
            return rep
        if st.get("trial") == target:
            st.update(trial=None, tries=0)  # never leave a half-rewritten slot named as trial
            _state_write(s, st)
            step("trial withdrawn")
        present = info["slots"][target]
        have = present if not force else {}
        running = info["slots"][active] if active and not force else {}
        base = f"apps/{target}"
        # a file of the running slot that differs from the bundle is damage only when the slot
        # holds this very bundle (same manifest bytes); otherwise it is what the update changes
        same_bundle = running.get("manifest.json") == sha256(slot_bytes(b))
        dirs = sorted({rel.rsplit("/", 1)[0] for rel in b.files if "/" in rel})
        s.run(f"_mk({base!r})\n" + "".join(f"_mk({base + '/' + d!r})\n" for d in dirs))
        total = sum(len(v) for k, v in b.files.items()
                    if have.get(k) != b.manifest["files"][k]["sha256"]
                    and running.get(k) != b.manifest["files"][k]["sha256"])
        done = 0
        for rel, data in sorted(b.files.items()):
            want = b.manifest["files"][rel]["sha256"]
            if have.get(rel) == want:
                rep.skipped.append(rel)
                continue
            if running.get(rel) == want:
                s.run(f"_cp({'apps/' + active + '/' + rel!r}, {base + '/' + rel!r})\n")
                rep.copied.append(rel)
                step(f"copied {rel}")
                continue
            if rel in running and same_bundle:
                rep.repaired.append(rel)  # the running slot holds this bundle, this file damaged
            first = {"chunk": True}

            def cb(written: int, size: int, rel=rel, first=first) -> None:
                if progress is not None:
                    progress(done + written, total, rel)
                if first["chunk"] and written < size:
                    first["chunk"] = False
                    step(f"writing {rel}")  # a power cut here leaves a torn file in the slot

            s.write(f"{base}/{rel}", data, cb)
            done += len(data)
            rep.sent.append(rel)
            rep.bytes_sent += len(data)
            step(f"sent {rel}")
        for rel in sorted(set(present) - set(b.files) - {"manifest.json", "manifest.json.tmp"}):
            s.run(f"os.remove({base + '/' + rel!r})\n")
            rep.removed.append(rel)
            step(f"removed {rel}")
        for attempt in range(3):
            now = s.json(f"o = {{}}\n_walk({base!r}, '', o)\nprint(json.dumps(o))\n")
            bad = [rel for rel in b.files if now.get(rel) != b.manifest["files"][rel]["sha256"]]
            if not bad:
                break
            if attempt == 2:
                raise FlashError(f"slot {target}: {', '.join(bad)} still differ after rewriting")
            for rel in bad:
                s.write(f"{base}/{rel}", b.files[rel])
                rep.bytes_sent += len(b.files[rel])
                rep.repaired.append(rel)
        step("verified")
        man = slot_bytes(b)
        s.write(f"{base}/manifest.json.tmp", man)
        s.run(f"_rn({base + '/manifest.json.tmp'!r}, {base + '/manifest.json'!r})\n")
        if b.signature is not None:
            s.write(f"{base}/manifest.sig", b.signature.encode())
        else:
            s.run(f"try:\n import os; os.remove({base + '/manifest.sig'!r})\nexcept OSError:\n pass\n")
        step("manifest")
        # the board's own loader, as it booted (never the bundle's, not written yet), decides
        # whether it would boot this slot (signature, downgrade): asked before anything of the
        # bundle's loader lands and before the commit, so a refused bundle never becomes a trial
        why = s.json("import bootsel\nbootsel.root = ''\n"
                     f"print(json.dumps(bootsel.admit({target!r}, bootsel.load_state()) "
                     "if hasattr(bootsel, 'admit') else None))\n")
        if why is not None:
            raise FlashError(f"bundle refused by the board: {why}; the running app keeps running")
        # what a loader file imports lands before it (bootsel imports romcache): a power cut
        # between two of them leaves a loader that still boots
        for name in reversed(LOADER):
            data = b.loader[name]
            if info["root"].get(name) == b.manifest["loader"][name]["sha256"]:
                continue
            s.write(name + ".tmp", data)
            got = s.json(f"print(json.dumps(_h({name + '.tmp'!r})))\n")
            if got != b.manifest["loader"][name]["sha256"]:
                raise FlashError(f"loader {name}: written copy does not verify")
            s.run(f"_rn({name + '.tmp'!r}, {name!r})\n")
            rep.loader_sent.append(name)
            rep.bytes_sent += len(data)
            step(f"loader {name}")
        st.update(trial=target, tries=0)
        if allow is not None:
            st["allow_board"] = allow  # the loader refuses it otherwise
        _state_write(s, st)
        step("committed")
        if active is not None and ("hbmain.py" in info["root"] or "hbmain.mpy" in info["root"]):
            # a confirmed slot exists: the loose app of a hand-flashed board is stale now
            s.run("for n in ('hbmain.py', 'hbmain.mpy'):\n    try:\n        os.remove(n)\n"
                  "    except OSError:\n        pass\n_rmtree('hashboard')\n")
            rep.removed.append("/hbmain + /hashboard (loose app)")
            step("loose removed")
    except FlashError:
        # refused or failed before the commit: nothing new boots, so give the board its
        # controller back before saying why (the running app keeps running)
        try:
            s.close(True)
        except Exception:  # noqa: BLE001 - the original error is the one to report
            pass
        await_app(port)
        raise
    except BaseException:
        s.t.close()
        raise
    s.close(reset)
    rep.seconds = time.monotonic() - t0
    return rep


def await_app(port: str, wait_s: float = 60.0) -> bool:
    """After a soft reset: until the controller answers again. Its imports take seconds on a
    busy host, and the next command (with its short reply timeout) must find it running."""
    from .link import Link

    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        try:
            with Link(port, timeout=2.0, auto_start=False) as link:
                link.request("ping")
                return True
        except HbError:
            time.sleep(0.3)
    return False


def bar(done: int, total: int, name: str) -> None:
    """A one-line progress bar on stderr."""
    width = 30
    frac = 1.0 if total == 0 else min(1.0, done / total)
    sys.stderr.write(f"\r[{'#' * int(frac * width):<{width}}] {frac * 100:5.1f}% "
                     f"{done / 1024:6.1f}/{total / 1024:.1f} KB {name[:28]:<28}")
    sys.stderr.flush()
