# Virtual MCU's ROMFS partition: vfs.rom_ioctl as an rp2 or esp32 build with a ROMFS partition
# has it (segment 0: read as memory, prepare/write/complete to program it), for the loader's
# romcache.py. The unix port has no memory outside the GC heap to map, so the partition is one
# bytearray taken from the interpreter's heap at reset (simstart.py); VirtualBoard adds its size to
# -X heapsize and the firmware counts its heap without it (hal.heap_reserved). The partition
# persists in its own image file beside the littlefs one. Not part of the firmware.
import os

_EINVAL = -22
_MIN_WRITE = 256  # an RP2040's flash page
_seg = None


def _partition():
    global _seg
    if _seg is None:
        size = int(os.getenv("HB_SIM_ROM_BYTES") or 0)
        if size <= 0:
            return None
        _seg = bytearray(size)
        with open(os.getenv("HB_SIM_ROM"), "rb") as f:
            f.readinto(_seg)
    return _seg


def reserved():
    """Heap bytes the partition takes."""
    return len(_seg) if _seg is not None else 0


def rom_ioctl(op, *args):
    seg = _partition()
    if op == 1:  # number of segments
        return 0 if seg is None else 1
    if seg is None or not args or args[0] != 0:
        return _EINVAL
    if op == 2:  # the segment, memory-mapped
        return memoryview(seg)
    if op == 3:  # prepare (erase) the first n bytes
        n = min(args[1], len(seg))
        ff = b"\xff" * _MIN_WRITE
        with open(os.getenv("HB_SIM_ROM"), "r+b") as f:
            for off in range(0, n, _MIN_WRITE):
                k = min(_MIN_WRITE, n - off)
                seg[off:off + k] = ff[:k]
                f.write(ff[:k])
        return _MIN_WRITE
    if op == 4:  # write buf at offset
        off, buf = args[1], args[2]
        if off < 0 or off + len(buf) > len(seg):
            return _EINVAL
        seg[off:off + len(buf)] = buf
        with open(os.getenv("HB_SIM_ROM"), "r+b") as f:
            f.seek(off)
            f.write(buf)
        return 0
    if op == 5:  # complete
        return 0
    return _EINVAL
