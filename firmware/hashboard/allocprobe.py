# Heap allocation per control period (issue 15 RAM, tools/bench_ram.py): gc.mem_alloc() before
# and after each control step and each whole loop pass for N periods while the board runs. A
# collection inside a period makes its difference meaningless: those periods are counted apart.
import gc


class AllocProbe:
    def __init__(self, periods):
        self.left = periods
        self.steps = 0  # control steps measured
        self.step_bytes = 0
        self.loop_bytes = 0  # from one control step's start to the next's (host lines, ramps too)
        self.lost = 0  # periods a collection ran in
        self.max_step = 0
        self._mark = -1

    def step(self, control_step, now):
        a0 = gc.mem_alloc()
        if self._mark >= 0:
            d = a0 - self._mark
            if d >= 0:
                self.loop_bytes += d
        control_step(now)
        a1 = gc.mem_alloc()
        d = a1 - a0
        if d < 0:
            self.lost += 1
            self._mark = -1
        else:
            self.step_bytes += d
            self.max_step = max(self.max_step, d)
            self.steps += 1
            self._mark = a1
        self.left -= 1

    def doc(self):
        n = self.steps or 1
        return {"periods_left": self.left, "steps": self.steps, "lost_to_gc": self.lost,
                "step_bytes": self.step_bytes, "per_step": self.step_bytes / n, "max_step": self.max_step,
                "loop_bytes": self.loop_bytes, "per_period": self.loop_bytes / n}
