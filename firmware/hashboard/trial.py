# Health check of an app booted on trial (docs/update.md): once healthy the app confirms itself;
# if it is not healthy within the trial window it restarts the board, and after bootsel's
# MAX_TRIES such boots the board returns to the previous app by itself.
from .compat import ticks_diff

_RUNNING = ("hashing", "throttled")
_MODULE_ITS_OWN_FAULT = ("unidentified", "incompatible", "empty")


def health(app):
    """(healthy, why not): the expander and every present module's regulator answer, and every
    identified module has its chain found and running (curtailed modules: regulators only)."""
    if app.expander is not None and not app.exp_ok:
        return False, "expander"
    running = 0
    for m in app.modules:
        if m.state in _MODULE_ITS_OWN_FAULT:
            continue  # a module's own problem says nothing about the app
        if not m.vrm_ok:
            return False, "regulator %d" % m.slot
        if m.state in _RUNNING and m.chain.found > 0:
            running += 1
        elif not (m.state == "off" and m.cause == "curtailed"):
            return False, "module %d %s" % (m.slot, m.state)
    return True, "%d chains running" % running


class TrialGuard:
    def __init__(self, boot, window_ms, now):
        self.boot = boot
        self.window_ms = window_ms
        self.t0 = now
        self.why = None

    def active(self):
        return self.boot is not None and self.boot.on_trial()

    def step(self, app, now):
        """Called once per telemetry period while on trial: 'confirmed', 'failed' or None."""
        ok, why = health(app)
        self.why = why
        if ok:
            self.boot.confirm()
            return "confirmed"
        if ticks_diff(now, self.t0) >= self.window_ms:
            return "failed"
        return None
