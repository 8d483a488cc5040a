# Long hex values (an RSA modulus, a signature: 512 digits) sent in pieces, since a request line
# holds 512 bytes: {"index": i, "count": n, "hex": piece}, gathered in a dict until complete.
from .protocol import ProtocolError


def gather(parts, args, op):
    """Add this request's piece to parts; the whole value once every piece is in (parts is
    emptied), else None. Piece 0 starts over; a value with a piece missing comes out as ""."""
    i, n, h = args.get("index"), args.get("count"), args.get("hex")
    if not (isinstance(n, int) and isinstance(i, int) and 0 < n <= 8 and 0 <= i < n and isinstance(h, str)
            and 0 < len(h) <= 160):
        raise ProtocolError("bad_args", op + " needs index 0..count-1, count 1..8 and hex (<= 160 digits)")
    if i == 0:
        parts.clear()
    parts[i] = h
    if len(parts) < n:
        return None
    whole = "".join(parts[k] for k in range(n)) if all(k in parts for k in range(n)) else ""
    parts.clear()
    return whole
