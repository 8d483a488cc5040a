# Where a technician finds a part: reference designators and PCB positions from the board
# definition (module.refs, module.pcb). Chips are laid out by voltage domain, one row each,
# the chain snaking row to row when the board says so.
def chip_ref(board, i):
    r = board["module"].get("refs", {})
    return r.get("chip", "U%d") % (i + r.get("chip_first", 1))


def domain_refs(board, d):
    """The designators of domain d's chips, first to last: 'U7-U12'."""
    m = board["module"]
    per = m["chips"] // m.get("domains", 1)
    return "%s-%s" % (chip_ref(board, d * per), chip_ref(board, d * per + per - 1))


def part_ref(board, part, k=0):
    """'vrm', 'eeprom' or ('sensors', k): the designator, or None when the board names none."""
    r = board["module"].get("refs", {}).get(part)
    if isinstance(r, list):
        return r[k] if k < len(r) else None
    return r


def chip_pos(board, i):
    """(x, y) in mm of chip i on its module, and its domain."""
    m = board["module"]
    per = m["chips"] // m.get("domains", 1)
    pcb = m.get("pcb", {})
    px, py = pcb.get("pitch_mm", (18, 24))
    ox, oy = pcb.get("origin_mm", (12, 12))
    d, col = i // per, i % per
    if pcb.get("serpentine", False) and d % 2:
        col = per - 1 - col
    return ox + col * px, oy + d * py, d
