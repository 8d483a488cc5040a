# What a cut chain looks like electrically (docs/diagnostics.md, "Series-domain balance"): from
# the UART a dead chip and a broken link into it look alike, every chip from there on silent.
# Their domains tell them apart. With every chip held in reset (all idle alike), a dead chip's
# domain conducts a sixth less than its neighbours; behind a broken link every chip still draws.
# Stepped from the bring-up (Module._enumerate) while the module is powered and guarded.
from .balance import DomainProbe
from .domaintaps import read_point

STEP_V = 0.3  # the second point below the first: a clear dI/dV with idle chips (~2 A)


def run(m):
    """Generator, one step a control period; leaves m.balance = (kind, domain, evidence, cut
    chip) or None when a part did not answer or the string could not move."""
    m.balance = None
    m.reset(True)  # chips in reset: every live one idle, whatever the bring-up configured
    n = m.board["module"].get("domains", 1)
    probe = DomainProbe(n)
    yield None
    v0 = m.vrm.vout_set
    try:
        for point in (0, 1, 2):  # 0, below, 0 again: a drift cancels (balance.DomainProbe)
            if point:
                m.vrm.move_vout(max(m.vlim["min"], v0 - STEP_V) if point == 1 else v0)
                yield None  # the string settles (a regulator slews in well under a millisecond)
            for _ in read_point(m, probe, point):
                yield None
    except OSError:
        return
    if probe.string_moved() < 0.5 * STEP_V:  # held near the floor: no second point to judge by
        return
    per = m.chain.expected // n
    kind, dom, why = probe.judge([per] * n)
    m.balance = (kind, dom, why, m.chain.fault_chip)
