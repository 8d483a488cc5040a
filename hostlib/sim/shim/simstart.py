# Reset vector of the virtual MCU: mount the board's littlefs flash image, then run boot.py and
# (after a normal reset) main.py from it, as a MicroPython board does. Not part of the firmware.
import os
import sys

_BLOCK = 4096


class FileBlockDevice:
    """Flash chip stand-in: a fixed-size image file with 4 KiB erase blocks."""

    def __init__(self, path, blocks):
        self.f = open(path, "r+b")
        self.blocks = blocks

    def readblocks(self, n, buf, off=0):
        self.f.seek(n * _BLOCK + off)
        self.f.readinto(buf)

    def writeblocks(self, n, buf, off=None):
        self.f.seek(n * _BLOCK + (off or 0))
        self.f.write(buf)
        self.f.flush()

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return _BLOCK
        if op == 6:  # erase: littlefs expects erased blocks to read 0xFF
            self.f.seek(arg * _BLOCK)
            self.f.write(b"\xff" * _BLOCK)
            return 0
        return 0


def _copy_tree(src, dst):
    for entry in os.ilistdir(src):
        name, kind = entry[0], entry[1]
        s = src + "/" + name
        d = dst + "/" + name
        if kind == 0x4000:
            try:
                os.mkdir(d)
            except OSError:
                pass
            _copy_tree(s, d)
        elif name.endswith(".py") or name.endswith(".json") or name.endswith(".mpy"):
            with open(s, "rb") as fi, open(d, "wb") as fo:
                while True:
                    chunk = fi.read(512)
                    if not chunk:
                        break
                    fo.write(chunk)


def _mount():
    image = os.getenv("HB_SIM_FLASH")
    size = os.stat(image)[6]
    bdev = FileBlockDevice(image, size // _BLOCK)
    try:
        os.mount(os.VfsLfs2(bdev), "/flash")
    except OSError:
        os.VfsLfs2.mkfs(bdev)
        os.mount(os.VfsLfs2(bdev), "/flash")
        factory = os.getenv("HB_SIM_FACTORY")
        if factory:  # factory programming of a blank board
            _copy_tree(factory, "/flash")
    os.chdir("/flash")


def _run(name):
    try:
        os.stat(name)
    except OSError:
        return
    try:
        exec(open(name).read(), {"__name__": "__main__"})
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - a board prints the traceback and goes to the REPL
        sys.print_exception(e)


sys.path[:] = [os.getenv("HB_SIM_SHIM"), "", "/flash/lib"]
import simrom  # noqa: E402

simrom.rom_ioctl(1)  # the ROMFS partition takes its heap first, in one piece, as flash is there from the start
_mount()
del _mount, _copy_tree, FileBlockDevice
_run("boot.py")
if os.getenv("HB_SIM_MODE") != "raw":
    _run("main.py")
del _run
