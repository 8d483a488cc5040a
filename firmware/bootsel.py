# Boot selection for the two app slots on the board's flash (docs/update.md), with MCUboot's
# semantics: the confirmed app boots; a newly flashed app boots on trial and must confirm its
# health within MAX_TRIES boots, else the board returns to the confirmed app by itself. Every
# state change is one atomic rename; a slot boots only if every file matches its manifest.
# Runs on MicroPython (boot.py) and imports on CPython (tests drive it on a directory).
import json
import os
import sys

import romcache

SLOTS = ("a", "b")
APPS = "apps"
STATE = "apps/state.json"
MAX_TRIES = 3  # boots a trial app gets to confirm itself
LOADER = ("boot.py", "main.py", "bootsel.py", "sigcheck.py", "romcache.py")  # stay loose at the root; never in a slot
KEY = "verify_key.json"  # a provisioned verification key: only signed bundles boot (docs/security.md)

root = ""  # "" = the current directory (the flash root on a board)
current = None  # what boot() chose: dict(slot, trial, version, bundle, layout, reverted, dir)


def _path(p):
    return root + "/" + p if root else p


def _exists(p):
    try:
        os.stat(_path(p))
        return True
    except OSError:
        return False


def read_json(p):
    try:
        with open(_path(p)) as f:
            doc = json.load(f)
        return doc if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None


def write_json(p, doc):
    """Write atomically: a temp file, then one rename over the old one (littlefs renames
    atomically; a power cut leaves the old file or the new one, never a mix)."""
    tmp = p + ".tmp"
    with open(_path(tmp), "w") as f:
        f.write(json.dumps(doc))
    try:
        os.rename(_path(tmp), _path(p))
    except OSError:  # a filesystem that will not rename over a file (FAT): not atomic there
        try:
            os.remove(_path(p))
        except OSError:
            pass
        os.rename(_path(tmp), _path(p))


def sha256_file(p):
    return _hex(_digest(p))


def _digest(p):
    return romcache.file_digest(_path(p))  # a manifest is 10 KB: read in pieces


def _hex(b):
    return "".join("%02x" % x for x in b)


def verify(slot):
    """The slot's manifest if every file it lists is there with its size and SHA-256, else None."""
    d = APPS + "/" + slot
    man = read_json(d + "/manifest.json")
    if man is None or not isinstance(man.get("files"), dict):
        return None
    for name, meta in man["files"].items():
        p = d + "/" + name
        try:
            if os.stat(_path(p))[6] != meta["size"] or sha256_file(p) != meta["sha256"]:
                return None
        except (OSError, KeyError, TypeError):
            return None
    return man


def admit(slot, st, trial=True):
    """None if the slot may boot here, else why not. A board with a verification key boots only
    an app whose manifest carries that key's signature, and takes no trial older (security
    counter `seq`) than the newest app it confirmed: a replayed old bundle stays out."""
    key, why = trusted_key()
    if key is None:
        return why  # None: a development board, unsigned bundles boot
    d = APPS + "/" + slot
    try:
        digest = _digest(d + "/manifest.json")
        with open(_path(d + "/manifest.sig"), "rb") as f:
            raw = f.read()
    except OSError:
        return refusal(key, None, None, None, st, trial)
    try:
        sig = raw.decode()
    except UnicodeError:  # found by tools/fuzz.py: a damaged signature file is refused, not a crash
        return "signature is not hex"
    seq = None
    if trial:
        man = read_json(d + "/manifest.json")  # (its bytes are what the signature covers)
        seq = man.get("seq") if man is not None else None
    return refusal(key, digest, sig, seq, st, trial)


def trusted_key():
    """(the verification key, None); (None, None) on a development board (no key); (None, why)
    when the key is there but unreadable: fail closed, never as if there were none."""
    key = read_json(KEY)
    if key is None and _exists(KEY):
        return None, "the board's verification key is unreadable"
    return key, None


def refusal(key, digest, sig, seq, st, trial):
    """admit's rule for one manifest: its SHA-256 (digest), signature text (None: unsigned) and
    security counter (seq, checked for a trial), on a board with this verification key. Also
    asked by the running app before a flash stops it (hashboard/admitcheck.py)."""
    if sig is None:
        return "unsigned bundle (this board takes only signed ones)"
    import sigcheck

    why = sigcheck.check(None, sig, key, digest)
    if why is not None:
        return why
    if trial and (not isinstance(seq, int) or seq < st.get("min_seq", 0)):
        return "downgrade: bundle seq %s is below the newest confirmed %s" % (seq, st.get("min_seq", 0))
    return None


def own_board(st):
    """(name, fixed) of the board definition this hardware was made for: the provisioned
    identity's `board` (fixed), else the board of the last app it confirmed (state `board`),
    else the factory (loose) board.json; None on a blank board (nothing to compare with)."""
    ident = read_json("identity.json")
    if ident is not None and isinstance(ident.get("board"), str):
        return ident["board"], True
    if isinstance(st.get("board"), str):
        return st["board"], False
    cfg = read_json("board.json")
    if cfg is not None and isinstance(cfg.get("name"), str):
        return cfg["name"], False
    return None, False


def fits(man, st, own):
    """An app made for this board, own = own_board(st) (a bundle for another board would drive
    other pins, addresses and limits). A development board (no provisioned board) also takes
    the one board the host explicitly allowed with `flash --force` (state `allow_board`)."""
    want, fixed = own
    board = man.get("board")
    if want is None or board == want:
        return True
    return not fixed and board is not None and st.get("allow_board") == board


def load_state():
    st = read_json(STATE) or {}
    for k in ("confirmed", "trial", "reverted"):
        if st.get(k) not in SLOTS:
            st[k] = None
    if not isinstance(st.get("tries"), int):
        st["tries"] = 0
    if not isinstance(st.get("min_seq"), int):
        st["min_seq"] = 0
    return st


def loose_app():
    """Loose app files at the root: a board flashed by hand (mpremote cp) or at the factory."""
    return _exists("hbmain.py") or _exists("hbmain.mpy")


def choose():
    """(slot, on trial, manifest, state); slot "" = the loose app, None = nothing bootable.
    Updates the state file as MCUboot does: a trial boot is counted before the app runs, so a
    crash or a power cut during it counts too. No app ever becomes confirmed without
    confirming its own health."""
    st = load_state()
    own = own_board(st)
    t = st["trial"]
    if t is not None:
        if st["tries"] >= MAX_TRIES:
            st["reverted"], st["trial"], st["tries"] = t, None, 0
            write_json(STATE, st)
        else:
            st["tries"] += 1
            write_json(STATE, st)
            man = verify(t)
            why = admit(t, st) if man is not None else None
            if man is not None and fits(man, st, own) and why is None:
                return t, True, man, st
            # damaged, made for another board, or not signed for this one: never boot it
            st["reverted"], st["trial"], st["tries"] = t, None, 0
            st["refused"] = "damaged" if man is None else why or "board %s" % man.get("board")
            write_json(STATE, st)
    c = st["confirmed"]
    if c is not None:
        man = verify(c)
        if man is not None and fits(man, st, own) and admit(c, st, False) is None:
            return c, False, man, st
    elif loose_app():
        return "", False, None, st  # never confirmed a slot: the app that ran before the flash
    for s in SLOTS:  # a complete slot that was never committed, or the confirmed one is damaged
        if s != c and s != st["reverted"]:
            man = verify(s)
            if man is not None and fits(man, st, own) and admit(s, st) is None:
                st["trial"], st["tries"] = s, 1  # it has to prove itself like any new app
                write_json(STATE, st)
                return s, True, man, st
    return ("" if loose_app() else None), False, None, st


def boot(at=""):
    """Pick the app and put its directory first on sys.path (boot.py calls this)."""
    global root, current
    root = at
    recover()
    slot, trial, man, st = choose()
    if slot:
        d = _path(APPS + "/" + slot)
        sys.path.insert(0, d)
        current = {"layout": "slots", "slot": slot, "trial": trial, "version": man.get("version"),
                   "bundle": man.get("bundle"), "reverted": st["reverted"], "dir": d}
    elif slot == "":
        current = {"layout": "loose", "slot": None, "trial": False, "version": None,
                   "bundle": None, "reverted": st["reverted"], "dir": root or "."}
    else:
        current = None
        print("bootsel: no complete app on flash; staying at the REPL (regulators stay off)")
    if current is not None:
        current["rom"] = _to_rom(current["dir"])
    return current


def _to_rom(d):
    """The app's code into the ROM partition, if the port has one (romcache.py): the image's
    size, or None (its code compiles or loads into the heap). Never stops a boot."""
    try:
        return romcache.attach(d, root + "/" if root else "")
    except Exception as e:  # noqa: BLE001 - a partition that fails leaves the app in the heap
        print("bootsel: app stays in RAM: %s: %s" % (type(e).__name__, e))
        return None


def on_trial():
    return current is not None and current["trial"]


def confirm():
    """The running trial app is healthy: make it the confirmed app."""
    cur = current
    if cur is None or not cur["trial"]:
        return False
    st = load_state()
    st["confirmed"], st["trial"], st["tries"], st["reverted"] = cur["slot"], None, 0, None
    man = read_json(APPS + "/" + cur["slot"] + "/manifest.json") or {}
    if isinstance(man.get("board"), str):
        st["board"] = man["board"]  # what this board runs from now on
    seq = man.get("seq")
    if isinstance(seq, int) and seq > st.get("min_seq", 0):
        st["min_seq"] = seq  # no older bundle is taken on trial from now on (downgrade)
    st.pop("allow_board", None)
    st.pop("refused", None)
    write_json(STATE, st)
    cur["trial"] = False
    return True


def recover(strapped=None):
    """A lost secret (docs/security.md): the board definition's `recovery_pin` strapped low at
    reset (a jumper on the board) clears the secret and the production lock, so the owner can
    provision the board again. Physical access owns the board, as on any MCU without secure
    boot; the verification key stays."""
    cfg = read_json("board.json")
    st = read_json(STATE) or {}
    if cfg is None and st.get("confirmed") in SLOTS:
        cfg = read_json(APPS + "/" + st["confirmed"] + "/board.json")
    pin = cfg.get("recovery_pin") if cfg is not None else None
    if not isinstance(pin, int) or read_json("security.json") is None:
        return False
    if strapped is None:
        try:
            import machine

            strapped = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0
        except (ImportError, AttributeError, OSError, ValueError):
            return False
    if not strapped:
        return False
    write_json("security.json", {"secret": None, "locked": False})
    print("bootsel: recovery strap: board secret and lock cleared")
    return True


repl_ok = False  # the app's authorized `repl` op opened the REPL (main.py lets it through)


def kbd_intr(char):
    """Which console byte interrupts (-1: none), where the port has the switch."""
    try:
        import micropython

        micropython.kbd_intr(char)
    except (ImportError, AttributeError):
        pass


def hold_locked():
    """A locked board with no app it may boot: it says so and waits for the recovery strap or
    a reflash at the factory, never at the REPL."""
    import time

    kbd_intr(-1)
    while True:
        print("bootsel: locked and no app this board may boot; the recovery strap at reset clears the lock")
        time.sleep(10)


def locked():
    """The production lock (docs/security.md): a provisioned secret and the lock set."""
    doc = read_json("security.json")
    return doc is not None and doc.get("locked") is True and isinstance(doc.get("secret"), str)


def restart():
    """A trial app that failed: reset the MCU so the next boot counts against it."""
    try:
        import machine

        machine.reset()
    except (ImportError, AttributeError):
        sys.exit(1)
