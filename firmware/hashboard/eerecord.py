# A record kept in two copies in a 24C02 with a 16-bit sequence number: reads take the newest
# valid copy, writes go to the other copy page by page and are verified by read-back, so a power
# cut at any point leaves the previous record valid. Shared by the identity and profile records.
PAGE = 8  # 24C02 page size (larger parts' pages are multiples); a write must not cross a page


def newer(a, b):
    """True when 16-bit sequence a is newer than b (wrapping)."""
    return ((a - b) & 0xFFFF) < 0x8000


def read(i2c, addr, bases, buf, decode, error):
    """The newest copy that decode() accepts, with its base address in rec['slot']. Raises
    error (naming why copy A is not valid) when neither is; OSError when the part is silent."""
    best = None
    first_error = None
    for base in bases:
        i2c.readfrom_mem_into(addr, base, buf)
        try:
            rec = decode(buf)
        except error as e:
            if first_error is None:
                first_error = e
            continue
        rec["slot"] = base
        if best is None or newer(rec["seq"], best["seq"]):
            best = rec
    if best is None:
        raise first_error if first_error is not None else error("blank")
    return best


def write(i2c, addr, bases, record, buf, decode, error, settle=None, page=PAGE):
    """Write record into the copy that is not the newest valid one; returns the base written."""
    try:
        current = read(i2c, addr, bases, buf, decode, error)["slot"]
    except error:
        current = bases[1]  # nothing valid: start with copy A
    base = bases[0] if current == bases[1] else bases[1]
    write_pages(i2c, addr, base, record, settle, page)
    i2c.readfrom_mem_into(addr, base, buf)
    if bytes(buf) != bytes(record):
        raise OSError(5)  # read-back mismatch: the other copy is still the valid one
    return base


def write_pages(i2c, addr, base, data, settle=None, page=PAGE):
    """page: the part's page (or any power of two below it); base must be aligned to it."""
    for off in range(0, len(data), page):
        i2c.writeto_mem(addr, base + off, data[off : off + page])
        if settle is not None:
            settle(5)  # the part's internal write cycle (tWR 5 ms)
