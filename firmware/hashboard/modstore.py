# What a module carries in its EEPROM besides its identity: the tuned profile it starts from
# (the last one, layout 1, readable on every part and by older firmware) and, on a 24C64-class
# part, a table of one profile per tuning goal (ptable); and its repair log. The codecs are
# shared with the host and the emulator; this class is the firmware's side of one slot.
from . import eepart, eerecord, profile, ptable, repairlog


class ModuleStore:
    def __init__(self, i2c, addr, board, clock):
        self.addr = addr  # None: the slot has no module EEPROM
        name, _, bits, page = eepart.of(board)
        self.part = name
        self.i2c = eepart.Wide(i2c) if bits == 16 else i2c
        self.table = bits == 16  # room for the per-goal table above the 24C02 layout
        self.page = page
        self.clock = clock
        self.profile = None  # stored tuned profile in use, or None (board defaults)
        self.note = None  # why a stored profile was not used
        self._buf = bytearray(profile.RECORD_LEN)
        self._tbuf = bytearray(ptable.RECORD_LEN)

    def forget(self):
        self.profile = None
        self.note = None

    # ------------------------------------------------------------ at insertion
    def load(self, chips, vlim, flim, rating_mv, goal=None):
        """The profile a newly inserted module starts from: for goal (mode, target) the table's
        entry for it (or the nearest that fits, ptable.ranked), else the last one saved. Values
        outside this board's limits or above the module's rating are never used (note says why;
        "table:WHY" when the last profile stood in for a refused entry)."""
        self.forget()
        refused = None  # why the table's best candidate could not be used here
        if goal is not None and self.table:
            try:
                found = ptable.entries(self.i2c, self.addr, self._tbuf)
            except OSError:
                found = []
            for p in ptable.ranked(found, goal[0], goal[1]):
                why = self._usable(p, chips, vlim, flim, rating_mv)
                if why is None:
                    self.profile = p
                    return p
                if refused is None:
                    refused = why
        try:
            p = profile.read(self.i2c, self.addr, self._buf)
        except OSError:
            self.note = "no_response"
            return None
        except ValueError as e:
            self.note = refused if str(e) == "blank" else str(e)
            return None
        why = self._usable(p, chips, vlim, flim, rating_mv)
        if why is not None:
            self.note = why  # stored values outside this board's limits: defaults instead
            return None
        self.profile = p
        if refused is not None:
            self.note = "table:" + refused
        return p

    def _usable(self, p, chips, vlim, flim, rating_mv):
        why = profile.check(p, chips, vlim, flim)
        if why is None and rating_mv and p["vout_mv"] > rating_mv:
            why = "vout_above_rating"  # never above what the module is rated for
        return why

    # ------------------------------------------------------------ saving
    def save(self, freqs, vout_mv, goal=None, ths=0.0, power_w=0.0):
        """Store the live settings as the last profile and, for goal (mode, target) on a part
        with a table, as that goal's entry. Each write is verified by read-back; a failed one
        leaves the previous record valid. Returns the last profile as decoded."""
        if goal is not None and self.table and len(freqs) <= ptable.MAX_CHIPS:
            found = ptable.entries(self.i2c, self.addr, self._tbuf)
            k = ptable.choose(found, goal[0], goal[1])
            seq = 1  # one past the newest entry's, so the least recently written is known
            for _, r in found:
                if eerecord.newer(r["seq"] + 1, seq):
                    seq = (r["seq"] + 1) & 0xFFFF
            rec = ptable.encode(goal[0], goal[1], freqs, vout_mv, ths, power_w, seq)
            ptable.write(self.i2c, self.addr, k, rec, self._tbuf, self.clock.sleep_ms, self.page)
        if len(freqs) > profile.MAX_CHIPS:
            freqs = [max(freqs)]  # layout 1 holds one module-wide frequency for long chains
        try:
            seq = profile.read(self.i2c, self.addr, self._buf)["seq"] + 1
        except ValueError:
            seq = 1
        rec = profile.encode(freqs, vout_mv, seq)
        profile.write(self.i2c, self.addr, rec, self._buf, self.clock.sleep_ms, self.page)
        self.profile = profile.decode(rec)
        self.note = None
        return self.profile

    def targets(self):
        """The table's entries (one per goal), without the per-chip frequencies."""
        if not self.table or self.addr is None:
            return []
        out = []
        for k, r in ptable.entries(self.i2c, self.addr, self._tbuf):
            out.append({"entry": k, "mode": r["mode"], "target": r["goal"], "vout": r["vout_mv"] / 1000.0,
                        "ths": r["ths"], "power_w": r["power_w"], "seq": r["seq"]})
        return out

    # ------------------------------------------------------------ repair log
    def repairs(self, add=None):
        """Entries of the append-only repair log, oldest first; add=(days, code, arg) appends."""
        if add is not None:
            repairlog.append(self.i2c, self.addr, add[0], add[1], add[2], self._tbuf, self.clock.sleep_ms)
        return repairlog.read(self.i2c, self.addr, self._tbuf)  # the log is one 64-byte read
