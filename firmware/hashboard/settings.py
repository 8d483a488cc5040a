# Settings that survive a reset (power target, curtailment, heartbeat contract), kept in one
# small JSON file on the board's flash. Written atomically (temp file + rename) and validated
# on load against the board's limits, so a bad or half-written file is never applied.
import json
import os

FILE = "settings.json"
_TMP = "settings.tmp"


def defaults():
    return {"power_target_w": None, "curtailed": False, "curtail_level": 0,
            "heartbeat": None, "tune": None, "shed": 0}


def validate(s, board):
    """Return a clean settings dict; anything invalid falls back to the default for that key."""
    out = defaults()
    if not isinstance(s, dict):
        return out
    p = s.get("power_target_w")
    if isinstance(p, (int, float)) and not isinstance(p, bool) and p > 0:
        out["power_target_w"] = float(p)
    if s.get("curtailed") is True:
        out["curtailed"] = True
    lvl = s.get("curtail_level")
    if isinstance(lvl, int) and not isinstance(lvl, bool) and 0 <= lvl <= 100:
        out["curtail_level"] = lvl
    shed = s.get("shed")  # modules a dispatcher switched off, one bit per slot
    if isinstance(shed, int) and not isinstance(shed, bool) and 0 <= shed < (1 << len(board["slots"])):
        out["shed"] = shed
    hb = s.get("heartbeat")
    lim = board["limits"]
    if isinstance(hb, dict) and hb.get("policy") in ("hold", "curtail", "off"):
        t = hb.get("timeout_s")
        if isinstance(t, (int, float)) and not isinstance(t, bool) and 1 <= t <= 3600:
            out["heartbeat"] = {"policy": hb["policy"], "timeout_s": t}
    elif hb is True:
        out["heartbeat"] = {"policy": lim["heartbeat_policy"], "timeout_s": lim["heartbeat_timeout_s"]}
    if isinstance(s.get("tune"), dict):
        out["tune"] = s["tune"]  # its values are checked by Tuning.load against the limits
    return out


def load(board, path=FILE):
    try:
        with open(path) as f:
            return validate(json.loads(f.read()), board)
    except (OSError, ValueError):
        return defaults()


def save(s, path=FILE, tmp=_TMP):
    with open(tmp, "w") as f:
        f.write(json.dumps(s))
    os.rename(tmp, path)  # atomic on littlefs: the old file or the new one, never half


class FileStore:
    """Settings on the board's own flash (the working directory)."""

    def __init__(self, path=FILE):
        self.path = path

    def load(self, board):
        return load(board, self.path)

    def save(self, s):
        save(s, self.path, self.path + ".tmp")

    def read(self, name):
        """Another small JSON document next to the settings (e.g. the board identity)."""
        try:
            with open(name + ".json") as f:
                return json.loads(f.read())
        except (OSError, ValueError):
            return None

    def write(self, name, doc):
        save(doc, name + ".json", name + ".tmp")

    def blob_read(self, name, off, buf):
        """Fill buf from a fixed-slot binary file at off; the bytes read (0 past its end)."""
        try:
            with open(name + ".bin", "rb") as f:
                f.seek(off)
                return f.readinto(buf) or 0
        except OSError:
            return 0

    def blob_write(self, name, off, data):
        """One slot of a fixed-slot binary file, written in place. littlefs commits a file at
        close (a cut leaves the old slot or the new one); the slot's own CRC covers the rest."""
        path = name + ".bin"
        try:
            f = open(path, "r+b")
        except OSError:
            f = open(path, "wb")
        try:
            end = f.seek(0, 2)
            if end < off:
                f.write(bytes(off - end))  # first pass of the ring: the file grows slot by slot
            f.seek(off)
            f.write(data)
        finally:
            f.close()


class MemoryStore:
    """Settings kept in RAM (fast lane, tests): same interface, nothing persists."""

    def __init__(self):
        self.data = None
        self.docs = {}

    def load(self, board):
        return validate(self.data, board) if self.data is not None else defaults()

    def save(self, s):
        self.data = json.loads(json.dumps(s))

    def read(self, name):
        return json.loads(self.docs[name]) if name in self.docs else None

    def write(self, name, doc):
        self.docs[name] = json.dumps(doc)

    def blob_read(self, name, off, buf):
        b = self.docs.get(name + ".bin", b"")
        n = max(0, min(len(buf), len(b) - off))
        buf[:n] = b[off:off + n]
        return n

    def blob_write(self, name, off, data):
        b = self.docs.get(name + ".bin")
        if b is None:
            b = self.docs[name + ".bin"] = bytearray()
        if len(b) < off + len(data):
            b.extend(bytes(off + len(data) - len(b)))
        b[off:off + len(data)] = data
