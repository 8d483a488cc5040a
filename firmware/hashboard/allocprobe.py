# Heap allocation per control period (issue 15 RAM, tools/bench_ram.py): gc.mem_alloc() before
# and after each control step and each whole loop pass for N periods while the board runs. Each
# measured step runs with the collector held off (after a collection, so it has the room): a
# collection inside would make the difference meaningless, and skipping such steps would skip
# exactly the ones that allocate most. Between steps a collection may still run: those gaps are
# counted apart.
import gc

_ROOM = 16 * 1024  # free heap a measured step needs (the most one was seen to allocate: ~5 KB, wrapped)


class AllocProbe:
    def __init__(self, periods, works=()):
        """works: the chains' PatternWork, whose nonce checks are counted apart (hashlib's hash
        objects where the viper SHA-256d cannot run)."""
        self.left = periods
        self.works = works
        for w in works:
            w.alloc_seen = 0
            w.alloc_checks = 0
        self.nonce_bytes = 0  # of step_bytes: what the nonce checks allocated
        self.other_max = 0  # the most a step allocated outside nonce checks
        self.steps = 0  # control steps measured
        self.step_bytes = 0
        self.loop_bytes = 0  # from one control step's start to the next's (host lines, ramps too)
        self.short = 0  # steps run unmeasured: too little free heap to hold the collector off
        self.gaps = 0  # between-step gaps measured
        self.lost = 0  # gaps a collection ran in
        self.max_step = 0
        self._mark = -1
        self.sections = None  # {label: [bytes, calls]} when the calls are wrapped (allocsections)

    def step(self, control_step, now):
        a = gc.mem_alloc()
        if self._mark >= 0:  # since the last step's end: host lines, ramps (no collection if >= 0)
            if a >= self._mark:
                self.loop_bytes += a - self._mark
                self.gaps += 1
            else:
                self.lost += 1
        gc.collect()
        if gc.mem_free() < _ROOM:  # no room to hold the collector off: run it unmeasured
            self.short += 1
            control_step(now)
            self._mark = -1
            self.left -= 1
            return
        n0 = self._nonce_total()
        gc.disable()
        try:
            a0 = gc.mem_alloc()
            control_step(now)
            d = gc.mem_alloc() - a0
        finally:
            gc.enable()
        self.step_bytes += d
        if d > self.max_step:
            self.max_step = d
        nb = self._nonce_total() - n0
        self.nonce_bytes += nb
        if d - nb > self.other_max:
            self.other_max = d - nb
        self.steps += 1
        self._mark = gc.mem_alloc()
        self.left -= 1
        if self.left == 0:
            for w in self.works:
                w.alloc_seen = None  # done: the nonce path is bracketed no more

    def _nonce_total(self):
        t = 0
        for w in self.works:
            t += w.alloc_seen or 0
        return t

    def doc(self):
        n = self.steps or 1
        checks = 0
        for w in self.works:
            checks += w.alloc_checks
        return {"periods_left": self.left, "steps": self.steps, "unmeasured": self.short, "lost_to_gc": self.lost,
                "step_bytes": self.step_bytes, "per_step": self.step_bytes / n, "max_step": self.max_step,
                "loop_bytes": self.loop_bytes, "gaps": self.gaps, "per_period": self.loop_bytes / (self.gaps or 1),
                "sections": self.sections, "nonces": checks, "nonce_bytes": self.nonce_bytes,
                "other_bytes": self.step_bytes - self.nonce_bytes, "other_max": self.other_max}
