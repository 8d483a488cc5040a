# PLL0 divider search for BM1366/68/70 (EM pll.c semantics: exact error, then VCO, then postdiv).
REF_MHZ = 25.0


def solve(target_mhz, fb_min, fb_max):
    """Return (fbdiv, refdiv, pd1, pd2, actual_mhz) closest to target within the chip's fb range."""
    best = None
    best_err = 1e9
    best_vco = 1e9
    best_pd = 99
    for refdiv in (2, 1):
        for pd1 in range(7, 0, -1):
            for pd2 in range(7, 0, -1):
                if pd1 <= pd2:
                    continue
                fb = int(target_mhz / REF_MHZ * refdiv * pd1 * pd2 + 0.5)
                if fb < fb_min or fb > fb_max:
                    continue
                f = REF_MHZ * fb / (refdiv * pd1 * pd2)
                err = abs(f - target_mhz)
                vco = REF_MHZ * fb / refdiv
                pd = pd1 * pd2
                if err < best_err - 1e-9 or (
                    abs(err - best_err) <= 1e-9
                    and (vco < best_vco or (vco == best_vco and pd < best_pd))
                ):
                    best = (fb, refdiv, pd1, pd2, f)
                    best_err, best_vco, best_pd = err, vco, pd
    return best


def register_value(fb, refdiv, pd1, pd2):
    """PLL0_PARAMETER (0x08) word as written on the wire (BM1366/68/70)."""
    vdo = 0x50 if fb * REF_MHZ / refdiv >= 2400 else 0x40
    post = (((pd1 - 1) & 0xF) << 4) | ((pd2 - 1) & 0xF)
    return (vdo << 24) | (fb << 16) | (refdiv << 8) | post


def decode_register(value):
    """Inverse of register_value: frequency in MHz, or 0.0 for an invalid word."""
    fb = (value >> 16) & 0xFFF
    refdiv = (value >> 8) & 0x3F
    pd1 = ((value >> 4) & 0x7) + 1
    pd2 = (value & 0x7) + 1
    if refdiv == 0 or fb == 0:
        return 0.0
    return REF_MHZ * fb / (refdiv * pd1 * pd2)
