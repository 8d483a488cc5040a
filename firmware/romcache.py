# The app's code in the board's ROMFS partition (docs/update.md, "Code in ROM"). MicroPython runs
# .mpy bytecode from a memory-mapped ROMFS in place, so the app's code costs no heap: on the
# virtual board the live heap at hashing falls from 256 KB to about 180 KB. The partition is a
# cache of the app that boots: the loader rewrites it from the app's .mpy files whenever it holds
# anything else, and uses it only while it matches them; the files on littlefs stay the truth
# (a power cut mid-write leaves no rom.json, so the next boot writes it again).
# Loader file (loose at the root, like bootsel.py); runs on MicroPython and CPython (the host
# builds the factory image with the same code).
import hashlib
import json
import os
import sys

MOUNT = "/rom"
STATE = "rom.json"  # what the partition holds: {"key" (of the files it was made from), "len", "sha256"}
APP = ("hbmain.py", "hbmain.mpy", "hashboard")  # what the app is, in a slot or at the root
HEADER = b"\xd2\xcd\x31"  # ROMFS magic (MicroPython extmod/vfs_rom.c)
_DATA, _DIR, _FILE = 2, 4, 5  # record kinds
_CHUNK = 4096  # write unit (at least the partition's minimum write)
_buf = bytearray(512)


def _isdir(p):
    try:
        return os.stat(p)[0] & 0x4000 != 0
    except OSError:
        return False


def app_files(d):
    """The app's files under d, sorted, as paths relative to d ("hashboard/app.mpy")."""
    out = []  # type: list[str]
    for name in APP:
        p = d + "/" + name
        if _isdir(p):
            _walk(d, name, out)
        elif _exists(p):
            out.append(name)
    out.sort()
    return out


def _walk(d, rel, out):
    for name in sorted(os.listdir(d + "/" + rel)):
        r = rel + "/" + name
        if _isdir(d + "/" + r):
            _walk(d, r, out)
        elif name.endswith(".py") or name.endswith(".mpy"):
            out.append(r)


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def file_digest(p):
    """SHA-256 of a file, read in 512-byte pieces (no block the file's size is needed)."""
    h = hashlib.sha256()
    mv = memoryview(_buf)
    with open(p, "rb") as f:
        while True:
            n = f.readinto(_buf)
            if not n:
                break
            h.update(mv[:n])
    return h.digest()


def key(d, files):
    """What identifies the app: SHA-256 over each file's name and SHA-256, hex."""
    h = hashlib.sha256()
    for rel in files:
        h.update(rel.encode())
        h.update(b"\0")
        h.update(file_digest(d + "/" + rel))
    return _hex(h.digest())


# ------------------------------------------------------------------ ROMFS image (streamed)
def _ulen(v):
    n = 1
    while v > 0x7F:
        v >>= 7
        n += 1
    return n


def _uint(v):
    """ROMFS varint: 7 bits a byte, most significant first, the high bit on all but the last."""
    n = _ulen(v)
    out = bytearray(n)
    for i in range(n - 1, -1, -1):
        out[i] = (v & 0x7F) | (0x80 if i < n - 1 else 0)
        v >>= 7
    return out


def _record_len(n):
    return 1 + _ulen(n) + n  # every kind here encodes in one byte


def tree(d, files):
    """{name: size | subtree} of the app's .mpy files: what goes into the image."""
    root = {}  # type: dict
    for rel in files:
        if not rel.endswith(".mpy"):
            continue
        parts = rel.split("/")
        node = root
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = os.stat(d + "/" + rel)[6]
    return root


def _payload_len(name, item):
    n = _ulen(len(name)) + len(name)
    if isinstance(item, dict):
        return n + sum(_record_len(_payload_len(k, v)) for k, v in item.items())
    return n + _record_len(item)


def image_len(t):
    body = sum(_record_len(_payload_len(k, v)) for k, v in t.items())
    head = len(HEADER) + _ulen(body)
    return head + (1 if (head + body) % 2 else 0) + body


def write_image(d, t, out):
    """Stream the ROMFS image of tree t (files under d) through out(bytes): the same bytes as
    mpremote's `romfs build` of that directory, never held whole in RAM."""
    body = sum(_record_len(_payload_len(k, v)) for k, v in t.items())
    head = len(HEADER) + _ulen(body)
    out(HEADER + (b"\x80" if (head + body) % 2 else b"") + _uint(body))  # even length, as mpremote
    _write_dir(d, "", t, out)


def _write_dir(d, rel, t, out):
    for name in sorted(t):
        item = t[name]
        kind = _DIR if isinstance(item, dict) else _FILE
        out(bytes((kind,)) + _uint(_payload_len(name, item)) + _uint(len(name)) + name.encode())
        path = rel + "/" + name if rel else name
        if kind == _DIR:
            _write_dir(d, path, item, out)
            continue
        out(bytes((_DATA,)) + _uint(item))
        with open(d + "/" + path, "rb") as f:
            while True:
                n = f.readinto(_buf)
                if not n:
                    break
                out(memoryview(_buf)[:n])


# ------------------------------------------------------------------ the partition
def _ioctl():
    """vfs.rom_ioctl of a port with a ROMFS partition (rp2, esp32); the virtual MCU's stand-in."""
    try:
        import vfs

        return vfs.rom_ioctl  # type: ignore[attr-defined]
    except (ImportError, AttributeError):
        pass
    try:
        import simrom  # type: ignore[import-not-found]  # hostlib/sim/shim

        return simrom.rom_ioctl
    except ImportError:
        return None


def read_state(root):
    try:
        with open(root + STATE) as f:
            doc = json.load(f)
        return doc if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None


class _Writer:
    """Buffers a stream into whole chunks for rom_ioctl(4) and hashes what it wrote."""

    def __init__(self, ioctl, min_write):
        self.ioctl = ioctl
        self.unit = min_write if 0 < min_write <= _CHUNK else 1
        self.chunk = bytearray(_CHUNK)
        self.fill = 0
        self.offset = 0
        self.sha = hashlib.sha256()

    def __call__(self, data):
        self.sha.update(data)
        i = 0
        while i < len(data):
            n = min(len(data) - i, _CHUNK - self.fill)
            self.chunk[self.fill:self.fill + n] = data[i:i + n]
            self.fill += n
            i += n
            if self.fill == _CHUNK:
                self.flush()

    def flush(self):
        if self.fill:
            n = (self.fill + self.unit - 1) // self.unit * self.unit  # whole write units
            for j in range(self.fill, n):
                self.chunk[j] = 0
            r = self.ioctl(4, 0, self.offset, memoryview(self.chunk)[:n])
            if isinstance(r, int) and r < 0:
                raise OSError(-r)
            self.offset += self.fill
            self.fill = 0


def _write(ioctl, d, t, n, root, k):
    try:
        os.remove(root + STATE)  # first: a write cut short must never look complete
    except OSError:
        pass
    unit = ioctl(3, 0, n)  # erase; says the smallest write
    if unit < 0:
        raise OSError(-unit)
    w = _Writer(ioctl, unit)
    write_image(d, t, w)
    w.flush()
    ioctl(5, 0)
    doc = {"key": k, "len": n, "sha256": _hex(w.sha.digest())}
    with open(root + STATE + ".tmp", "w") as f:
        f.write(json.dumps(doc))
    os.rename(root + STATE + ".tmp", root + STATE)
    return doc


def _hex(b):
    return "".join("%02x" % x for x in b)


def _holds(seg, n, sha):
    return isinstance(n, int) and 0 < n <= len(seg) and _hex(hashlib.sha256(seg[:n]).digest()) == sha


def _segment(ioctl):
    seg = ioctl(2, 0)
    return None if isinstance(seg, int) else seg  # an int: no partition


def _umount():
    import vfs  # type: ignore[import-not-found]

    try:
        vfs.umount(MOUNT)  # a port mounts its partition at boot: never written while mounted
    except OSError:
        pass


def _mount(seg):
    import vfs  # type: ignore[import-not-found]

    _umount()
    vfs.mount(vfs.VfsRom(seg), MOUNT)  # type: ignore[attr-defined]
    if sys.path[:1] != [MOUNT]:
        sys.path.insert(0, MOUNT)


def attach(d, root=""):
    """Run the app in d from the ROM partition, mounted at /rom and first on sys.path; returns
    the image's size, or None when the app stays in the heap: the board has no partition, the
    app does not fit it, or the app is sources the partition holds no image of (a board flashed
    by hand: the board cannot compile them to .mpy). root: the flash root ("" or "dir/")."""
    files = app_files(d)
    ioctl = _ioctl() if files else None
    if ioctl is None:
        return None
    if any(not f.endswith(".mpy") for f in files):
        return _attach_sources(ioctl, d, files, root)
    seg = _segment(ioctl)
    if seg is None:
        return None
    t = tree(d, files)
    n = image_len(t)
    if n > len(seg):
        print("romcache: app image of %d bytes does not fit the %d-byte partition" % (n, len(seg)))
        return None
    # the partition is used only if it holds exactly the image of these (verified) files: its
    # hash is recomputed from them at every boot, rom.json is never trusted for compiled apps
    h = hashlib.sha256()
    write_image(d, t, h.update)
    want = _hex(h.digest())
    if not _holds(seg, n, want):
        _umount()
        _write(ioctl, d, t, n, root, want)
        if not _holds(seg, n, want):
            print("romcache: the partition does not read back what was written")
            return None
    _mount(seg)
    return n


def _attach_sources(ioctl, d, files, root):
    """Sources: the image a factory made of them (rom.json names the sources by key), while
    they are unchanged and the partition still holds it."""
    doc = read_state(root)
    if doc is None or doc.get("key") != key(d, files):
        return None
    seg = _segment(ioctl)
    if seg is None or not _holds(seg, doc.get("len"), doc.get("sha256")):
        return None
    _mount(seg)
    return doc["len"]
