"""Who may change a board (issue 15, docs/security.md): authorized requests (HMAC challenge-
response over the request line as sent), signed bundles checked by the loader, the production
lock, and the recovery strap. The policy pieces on CPython; the whole story on the real
interpreter behind hbctl, as a farm's technician meets it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashboard import auth, authmac
from hashboard.settings import MemoryStore
from hostlib import boards, bundle, flash, loaderfiles, signing
from hostlib.link import Link, encode_request

from hostlib.paths import FIRMWARE

BIN = Path(sys.executable).parent
BOARD = boards.load("modular-4x")


bootsel = loaderfiles.load("bootsel")
sigcheck = loaderfiles.load("sigcheck")


class Clock:
    def __init__(self):
        self.ms = 0

    def ticks_ms(self):
        return self.ms


@settings(max_examples=50, deadline=None)
@given(key=st.binary(min_size=1, max_size=100), msg=st.binary(max_size=300))
def test_the_boards_hmac_is_rfc_2104(key, msg):
    assert authmac.hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


def _authority(secret=b"\x5a" * 32):
    store = MemoryStore()
    a = auth.Authority(Clock(), store)
    a.store_secret(secret.hex())
    return a


def _line(a, op, args, secret=b"\x5a" * 32, rid="r1"):
    nonce = a.challenge()
    return encode_request(rid, op, args, (nonce, secret)).strip()[4:].decode()


def test_an_authorized_line_is_taken_once_and_never_again():
    a = _authority()
    line = _line(a, "set_vout", {"volts": 5.0})
    assert a.check(line) is None
    assert "no fresh challenge" in a.check(line)  # the same bytes again: a replay
    a.challenge()
    assert "stale or replayed" in a.check(line)  # a new challenge does not revive an old line
    assert "needs the board secret" in a.check('{"v":1,"id":1,"op":"set_vout","args":{"volts":5.0}}')


@settings(max_examples=200, deadline=None)
@given(pos=st.integers(0, 10**6), byte=st.integers(32, 126))
def test_any_altered_byte_of_an_authorized_line_is_refused(pos, byte):
    a = _authority()
    line = _line(a, "set_vout", {"module": 1, "volts": 4.95})
    i = pos % len(line)
    if ord(line[i]) == byte:
        return
    bad = line[:i] + chr(byte) + line[i + 1:]
    assert a.check(bad) is not None


def test_a_line_made_with_another_secret_is_refused():
    a = _authority()
    line = _line(a, "provision", {"target": "board", "serial": "X"}, secret=b"\x00" * 32)
    assert "wrong secret" in a.check(line)


def test_a_challenge_expires():
    a = _authority()
    line = _line(a, "lock", {})
    a.clock.ms += auth.NONCE_MS + 1
    assert "no fresh challenge" in a.check(line)


@pytest.mark.parametrize("op,args,locked", [
    ("status", {}, False), ("info", {}, False), ("curtail", {"level": 0}, False), ("resume", {}, False),
    ("events", {}, False), ("health", {}, False), ("modules", {}, False), ("heartbeat", {}, True),
    ("heartbeat", {"policy": "hold"}, True), ("set_vout", {"volts": 4.6}, False), ("set_vout", {"volts": 4.65}, True),
    ("set_vout", {"volts": "5"}, True), ("set_freq", {"mhz": 500}, False), ("set_freq", {"mhz": 550}, True),
    ("repair_log", {"module": 0}, False), ("repair_log", {"module": 0, "add": {}}, True), ("provision", {}, True),
    ("clear", {}, True), ("save_profile", {}, True), ("power", {"target_w": 900}, True), ("diag", {}, True),
    ("tune", {}, True), ("lock", {}, True), ("unlock", {}, True), ("repl", {}, True), ("verify_key", {}, True),
])
def test_which_ops_need_the_secret(op, args, locked):
    assert auth.needs_auth(op, args, BOARD) is locked


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    priv, pub = signing.generate(d / "k")
    other, _ = signing.generate(d / "other")
    return {"priv": signing.load_private(priv), "pub": signing.load_public(pub), "pub_path": pub,
            "priv_path": priv, "other": signing.load_private(other)}


@settings(max_examples=30, deadline=None)
@given(msg=st.binary(min_size=1, max_size=400), flip=st.integers(0, 10**6))
def test_the_loader_checks_a_signature_over_every_byte(keys, msg, flip):
    sig = signing.sign(keys["priv"], msg)
    assert sigcheck.check(msg, sig, keys["pub"]) is None
    i = flip % len(msg)
    assert "does not verify" in sigcheck.check(msg[:i] + bytes([msg[i] ^ 1]) + msg[i + 1:], sig, keys["pub"])
    other = sigcheck.check(msg, signing.sign(keys["other"], msg), keys["pub"])
    assert "does not verify" in other or "out of range" in other  # another modulus: either
    assert "truncated" in sigcheck.check(msg, sig[:-2], keys["pub"])
    assert "not hex" in sigcheck.check(msg, "zz" + sig[2:], keys["pub"])


def test_a_key_file_that_is_not_one_is_named(tmp_path):
    bad = tmp_path / "k.pub.json"
    bad.write_text('{"n": "abc", "e": 3, "bytes": 2}')
    with pytest.raises(signing.KeyError_, match="want the .pub.json"):
        signing.load_public(bad)
    (tmp_path / "x.pem").write_text("not a key")
    with pytest.raises(signing.KeyError_, match="not an unencrypted PEM"):
        signing.load_private(tmp_path / "x.pem")
    with pytest.raises(signing.KeyError_, match="never overwritten"):
        signing.generate(tmp_path / "x")


def test_the_recovery_strap_clears_the_secret_and_the_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(bootsel, "root", str(tmp_path))
    (tmp_path / "board.json").write_text(json.dumps({"name": "modular-4x", "recovery_pin": 22}))
    bootsel.write_json("security.json", {"secret": "ab" * 32, "locked": True})
    assert bootsel.locked() and not bootsel.recover(strapped=False) and bootsel.locked()
    assert bootsel.recover(strapped=True) and not bootsel.locked()
    assert bootsel.read_json("security.json") == {"secret": None, "locked": False}


# ---------------------------------------------------------------------------- the real board
def hbctl(*args, secret=None, check=None):
    env = dict(os.environ)
    env.pop("HBCTL_SECRET_FILE", None)
    if secret is not None:
        env["HBCTL_SECRET_FILE"] = str(secret)
    r = subprocess.run([str(BIN / "hbctl"), *args], capture_output=True, text=True, env=env, timeout=180)
    if check is not None:
        assert (r.returncode == 0) is check, (args, r.stdout, r.stderr)
    return r


def _variant(src: Path, dst: Path, key, edit) -> Path:
    """A copy of bundle src changed by edit(Bundle), signed again with key (None: unsigned)."""
    b = bundle.read(src)
    edit(b)
    b.manifest["files"] = bundle._entries(b.files)
    b.manifest["bundle"] = bundle._bundle_hash(b.manifest)
    b.signature = None
    if key is not None:
        bundle.sign(b, key)
    bundle.write(b, dst)
    return dst


@pytest.mark.mpy
def test_a_locked_production_board_takes_only_its_owners_requests_and_bundles(sim_only, keys, tmp_path, monkeypatch):
    from mpremote.transport_serial import SerialTransport

    from hostlib.sim import VirtualBoard

    signed = tmp_path / "signed"
    b = bundle.build("modular-4x")
    bundle.sign(b, keys["priv"])
    bundle.write(b, signed)
    secret = tmp_path / "board.secret"
    with VirtualBoard(speed=5) as vb:
        assert vb.wait_ready(60)
        P = ("--port", vb.port)
        info = json.loads(hbctl(*P, "info", "--json", check=True).stdout)
        assert info["security"]["mode"] == "development"
        hbctl(*P, "provision", "board", "--serial", "SEC-1", "--new-secret", str(secret), check=True)
        assert oct(secret.stat().st_mode & 0o777) == "0o600" and len(secret.read_text().strip()) == 64
        hbctl(*P, "trust-key", str(keys["pub_path"]), secret=secret, check=True)
        hbctl(*P, "lock", secret=secret, check=True)
        sec = json.loads(hbctl(*P, "info", "--json", check=True).stdout)["security"]
        assert sec["mode"] == "production" and sec["locked"] and sec["signed_updates"] == keys["pub"]["kid"]
        assert "secret" not in json.dumps(sec) or "SEC" not in json.dumps(sec)

        # destructive or limit-moving requests: refused without the secret, taken with it
        for argv in (("vout", "5.0"), ("provision", "board", "--serial", "SEC-2", "--force"), ("unlock",)):
            r = hbctl(*P, *argv)
            assert r.returncode != 0 and "unauthorized" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r
        hbctl(*P, "vout", "5.0", secret=secret, check=True)
        hbctl(*P, "provision", "board", "--serial", "SEC-2", "--force", secret=secret, check=True)
        assert json.loads(hbctl(*P, "info", "--json", check=True).stdout)["identity"]["serial"] == "SEC-2"
        # a grid operator sheds load without it
        hbctl(*P, "curtail", check=True)
        hbctl(*P, "resume", check=True)

        # a byte-identical authorized request sent again is refused
        raw = bytes.fromhex(secret.read_text().strip())
        with Link(vb.port, secret=raw) as ln:
            nonce = ln.request("challenge")["nonce"]
            line = encode_request("replay-1", "set_vout", {"volts": 4.9}, (nonce, raw))
            replies = []
            for _ in range(2):
                ln._discard_pending()
                ln._write(line)
                replies.append(_reply(ln, "replay-1"))
        assert replies[0]["ok"] and not replies[1]["ok"] and replies[1]["error"]["code"] == "unauthorized"

        # mpremote itself cannot open the REPL: it gives up after its 10 s with the board's
        # notice in what it printed (the virtual port is named like a USB board's, not /dev/pts)
        r = subprocess.run([str(Path(sys.executable).parent / "mpremote"), "connect", vb.port, "exec", "print(6 * 7)"],
                           capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        assert r.returncode != 0 and "could not enter raw repl" in out and "board locked" in out, out
        assert "42" not in r.stdout
        assert json.loads(hbctl(*P, "status", "--json", check=True).stdout)["state"] != "off"

        # a signed bundle flashes (the board's REPL opened by an authorized request)
        r = hbctl(*P, "flash", "--bundle", str(signed), "--quiet", "--json", secret=secret, check=True)
        running = json.loads(hbctl(*P, "info", "--json", check=True).stdout)["app"]
        assert running["bundle"] == b.bundle_hash and not running["trial"]

        bad = {
            "unsigned": _variant(signed, tmp_path / "unsigned", None, lambda x: None),
            "tampered": _variant(signed, tmp_path / "tampered", None, lambda x: x.files.update(
                {"hashboard/pll.mpy": x.files["hashboard/pll.mpy"] + b"\0"})),
            "downgrade": _variant(signed, tmp_path / "old", keys["priv"], lambda x: x.manifest.update(seq=999)),
            "other key": _variant(signed, tmp_path / "other", keys["other"], lambda x: None),
        }
        # tampered: the files changed after signing, the signature kept
        tampered = bundle.read(bad["tampered"])
        tampered.signature = b.signature
        bundle.write(tampered, bad["tampered"])
        trunc = tmp_path / "truncated"
        shutil.copytree(signed, trunc)
        (trunc / "manifest.sig").write_text(b.signature[:200])
        bad["truncated"] = trunc
        why = {"unsigned": "unsigned bundle", "tampered": "does not verify", "downgrade": "downgrade",
               "other key": "does not verify", "truncated": "truncated"}
        end = time.monotonic() + 60
        while any(m["state"] != "hashing" for m in json.loads(hbctl(*P, "status", "--json", check=True).stdout)["modules"]):
            assert time.monotonic() < end, "not every module hashing after the signed flash"
            time.sleep(0.5)
        up0 = json.loads(hbctl(*P, "status", "--json", check=True).stdout)["uptime_ms"]
        for name, path in bad.items():
            r = hbctl(*P, "flash", "--bundle", str(path), "--quiet", "--force", secret=secret)
            assert r.returncode != 0 and why[name] in r.stderr, (name, r.stderr)
            # refused while the app ran (admit_check): the controller was never stopped
            assert "nothing was stopped" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
            app = json.loads(hbctl(*P, "info", "--json", check=True).stdout)["app"]
            assert app["bundle"] == b.bundle_hash and not app["trial"], name  # the old app runs on
        st = json.loads(hbctl(*P, "status", "--json", check=True).stdout)
        assert st["uptime_ms"] > up0 and all(m["state"] == "hashing" for m in st["modules"]), st["modules"]
        # a host that does not ask first (an older hbctl, or a hostile one): the board's loader
        # refuses the written slot itself before any trial
        raw = bytes.fromhex(secret.read_text().strip())
        monkeypatch.setattr(flash.flashcheck, "refusal", lambda port, bun: None)
        with pytest.raises(flash.FlashError, match="does not verify.*the running app keeps running"):
            flash.deploy(vb.port, bundle.read(bad["tampered"]), secret=raw, force=True)
        app = json.loads(hbctl(*P, "info", "--json", check=True).stdout)["app"]
        assert app["bundle"] == b.bundle_hash and not app["trial"]

        # an authorized unlock: the REPL answers again
        hbctl(*P, "unlock", secret=secret, check=True)
        t = SerialTransport(vb.port, baudrate=115200, timeout=1)
        try:
            t.enter_raw_repl(soft_reset=False, timeout_overall=10)
            assert t.exec("print(6 * 7)").strip() == b"42"
            t.exit_raw_repl()
            t.serial.write(b"\x04")
        finally:
            t.close()

        # lock again, then the recovery strap at a cold boot clears the lost secret
        assert vb.wait_ready(60) or True
        hbctl(*P, "lock", secret=secret, check=True)
        vb.power_cut()
        vb.sim.pins[BOARD["recovery_pin"]] = 0
        vb.power_on()
        assert vb.wait_ready(60)
        vb.sim.pins[BOARD["recovery_pin"]] = 1
        sec = json.loads(hbctl(*P, "info", "--json", check=True).stdout)["security"]
        assert sec["mode"] == "development" and not sec["locked"] and sec["signed_updates"] == keys["pub"]["kid"]
        hbctl(*P, "vout", "4.9", check=True)


def _reply(ln: Link, rid: str) -> dict:
    import time

    deadline = time.monotonic() + 5
    while True:
        line = ln._read_line(deadline)
        assert line is not None, "no reply"
        if line.startswith(b"@hb "):
            msg = json.loads(line[4:])
            if msg.get("id") == rid:
                return msg


class _FakeLoader:
    """bootsel as main.py / boot.py see it, recording what they ask of it."""

    def __init__(self, locked, current=True, repl_ok=False, fail=None):
        import types

        self.calls = []
        self._locked, self.repl_ok = locked, repl_ok
        self.current = {"slot": "a"} if current else None
        self.mod = types.ModuleType("hbmain")
        self.mod.run = lambda boot: (_ for _ in ()).throw(fail) if fail else None

    def locked(self):
        return self._locked

    def on_trial(self):
        return False

    def restart(self):
        self.calls.append("restart")

    def hold_locked(self):
        self.calls.append("hold")

    def kbd_intr(self, c):
        self.calls.append(("kbd", c))

    def boot(self):
        self.calls.append("boot")


def _exec_loader(name, fake, monkeypatch):
    import gc

    monkeypatch.setattr(gc, "threshold", lambda n: None, raising=False)  # MicroPython's, not CPython's
    monkeypatch.setattr(sys, "print_exception", lambda e: None, raising=False)
    monkeypatch.setitem(sys.modules, "bootsel", fake)
    monkeypatch.setitem(sys.modules, "hbmain", fake.mod)
    code = (FIRMWARE / name).read_text()
    exec(compile(code, name, "exec"), {"__name__": "__main__"})


@pytest.mark.parametrize("fail", [RuntimeError("app bug"), KeyboardInterrupt()])
def test_a_locked_board_restarts_instead_of_falling_to_the_repl(fail, monkeypatch):
    fake = _FakeLoader(locked=True, fail=fail)
    try:
        _exec_loader("main.py", fake, monkeypatch)
    except KeyboardInterrupt:
        pass  # the fake restart returns; a board's would not
    assert "restart" in fake.calls


def test_the_authorized_repl_op_and_an_unlocked_board_reach_the_repl(monkeypatch):
    for fake in (_FakeLoader(locked=True, fail=KeyboardInterrupt(), repl_ok=True),
                 _FakeLoader(locked=False, fail=KeyboardInterrupt())):
        with pytest.raises(KeyboardInterrupt):
            _exec_loader("main.py", fake, monkeypatch)
        assert fake.calls == []


def test_a_locked_board_with_nothing_to_boot_holds_without_a_repl(monkeypatch):
    fake = _FakeLoader(locked=True, current=False)
    _exec_loader("main.py", fake, monkeypatch)
    assert fake.calls == ["hold"]
    fake = _FakeLoader(locked=True)
    _exec_loader("boot.py", fake, monkeypatch)
    assert fake.calls[:2] == [("kbd", -1), "boot"]  # Ctrl-C is data before anything else runs


def test_a_curtailment_never_lifts_the_board_above_its_owners_target():
    """curtail is open to anyone (a grid operator sheds load); it must not raise power above
    the authorized target: the goal is the lower of the two (audit finding)."""
    from hashboard.power import PowerManager

    pm = PowerManager(50.0, 625.0, 525.0, 12.5, 100, 1330.0, 1600.0)
    pm.set_target(600.0)
    pm.curtail(100)
    assert pm.goal_w() == 600.0
    pm.curtail(20)
    assert pm.goal_w() == pytest.approx(1330.0 * 0.2)


def test_the_console_guard_says_why_for_a_while_and_opens_the_repl_only_when_asked():
    from hashboard.consoleguard import NOTICE, NOTICE_MS, ConsoleGuard

    class App:
        def __init__(self):
            self.auth = type("A", (), {"locked": True})()
            self.repl_requested = False
            self.boot = type("B", (), {"repl_ok": False})()
            self.said = []

        def out(self, text):
            self.said.append(text)

    class Link:
        refused = False
        guard = None

    app, link = App(), Link()
    g = ConsoleGuard(app, link)
    assert link.guard is app.auth
    g.tick(0)
    assert app.said == []  # nothing refused, nothing said
    link.refused = True
    for t in range(0, NOTICE_MS + 3000, 100):
        g.tick(t)
    assert app.said.count(NOTICE) == NOTICE_MS // 1000 + 1 and not link.refused
    app.repl_requested = True
    with pytest.raises(KeyboardInterrupt):
        g.tick(NOTICE_MS + 4000)
    assert app.boot.repl_ok
