"""The defects of issue 10, planted back one at a time (as monkeypatches of the firmware's own
classes, never edits of its files) to show that the safety state machine catches each of them.
Each plant restores the behaviour the firmware had before the fix. Used by safety_campaign.py."""

from __future__ import annotations

from contextlib import contextmanager

from hashboard import app as app_mod
from hashboard import module as mod
from hashboard import slotfsm, thermal


def _latch_passes_to_replacement(p):
    """1. Removal forgot the identity but kept the thermal policy and sensor history."""
    orig = mod.Module._forget

    def forget(self):
        saved = (self.thermal.state, self.thermal.level, self.thermal.retries, self.thermal.cause)
        orig(self)
        self.thermal.state, self.thermal.level, self.thermal.retries, self.thermal.cause = saved
    p(mod.Module, "_forget", forget)
    _policy_assumes_off(p)  # the old policy: no OFF in cooling/latched, it never checked
    p(mod.Module, "_power_gate", lambda self, now: "heartbeat" if self.hb_off else None)


def _policy_assumes_off(p):
    orig = thermal.ThermalPolicy.decide

    def decide(self, t_max, ok, now, powered=True):
        if self.state in (thermal.LATCHED, thermal.COOLING):
            return orig(self, t_max, ok, now, False)  # "the module is off anyway"
        return orig(self, t_max, ok, now, True)  # trips whether powered or not
    p(thermal.ThermalPolicy, "decide", decide)


def _ungated_restart(p):
    def restart(self, now, recovery=False):
        self.fsm.restart(now)
        return True
    p(mod.Module, "restart", restart)
    p(mod.Module, "_power_gate", lambda self, now: "heartbeat" if self.hb_off else None)


def _clear_resume_repowers_hot(p):
    """2. clear + resume re-powered a module the policy still held in cooling."""
    _policy_assumes_off(p)
    _ungated_restart(p)


def _recovery_restarts_other_stops(p):
    """3. The end of any cool-down restarted the module, whatever had stopped it."""
    _policy_assumes_off(p)
    _ungated_restart(p)
    orig = mod.Module._power_on

    def power_on(self):  # and the power-on cleared a latched regulator trip unasked
        self.vrm.clear_faults()
        return orig(self)
    p(mod.Module, "_power_on", power_on)


def _heartbeat_waits_for_a_host(p):
    """4. The heartbeat timer started at the first request, not at boot."""
    orig = app_mod.App._check_heartbeat

    def check(self, now):
        if self.protocol.last_seen_ms is None:
            return
        orig(self, now)
    p(app_mod.App, "_check_heartbeat", check)


def _reset_without_power_good(p):
    """5. Reset was released on 'no fault bits', power-good and OFF ignored."""
    def check_power(self):
        try:
            faults = self.vrm.faults()
        except OSError:
            faults = ["nack"]
        if faults:
            return slotfsm.FAIL, "vrm:" + faults[0]
        self.reset(False)
        return slotfsm.OK, None
    p(mod.Module, "_check_power", check_power)
    orig = mod.Module.check_vrm

    def check_vrm(self, now):
        self.vrm.power_good = lambda sw: True
        try:
            orig(self, now)
        finally:
            del self.vrm.power_good
    p(mod.Module, "check_vrm", check_vrm)


def _fast_swap_unnoticed(p):
    """6. Presence only: a swap inside one sample kept the old module's identity and settings."""
    p(mod.Module, "check_identity", lambda self, now: None)
    orig = mod.Module._forget

    def forget(self):
        if self.state != mod.EMPTY:
            return  # only a removal the present line saw forgot the module
        orig(self)
    p(mod.Module, "_forget", forget)
    p(mod.Module, "_reseated", lambda self: False)


def _bad_stored_setting_is_fatal(p):
    """8a. A stored power target outside the board's range stopped the controller starting."""
    def start(self):
        s = self.settings
        self.settings = dict(s, power_target_w=None)
        orig_start(self)
        if s["power_target_w"] is not None:
            self.power.set_target(s["power_target_w"])
    orig_start = app_mod.App.start
    p(app_mod.App, "start", start)


def _flood_starves_the_loop(p):
    """8b. Every waiting host line was served before the next control step."""
    def serve(self, link):
        line = link.poll()
        while line is not None:
            self.protocol.handle(line)
            line = link.poll()
        return self.poll_due()
    p(app_mod.App, "serve", serve)


def _fast_swap_and_power_good_ignored(p):
    """6 with 5: alone, 6 is masked by the power-good check (a swapped module's regulator drops
    power-good and the module is powered off); together they show the machine sees the swap."""
    _fast_swap_unnoticed(p)
    _reset_without_power_good(p)


def _off_not_resent(p):
    """Audit F1. An off whose writes did not take (the expander or regulator not answering)
    was taken as done: nothing sent it again, the chain stayed out of reset unpowered."""
    orig = mod.Module._hw_off

    def hw_off(self):
        orig(self)
        self.off_pending = False
    p(mod.Module, "_hw_off", hw_off)


PLANTS = {
    "latch_passes_to_replacement": _latch_passes_to_replacement,
    "clear_resume_repowers_hot": _clear_resume_repowers_hot,
    "recovery_restarts_other_stops": _recovery_restarts_other_stops,
    "heartbeat_waits_for_a_host": _heartbeat_waits_for_a_host,
    "reset_without_power_good": _reset_without_power_good,
    "fast_swap_unnoticed": _fast_swap_unnoticed,
    "fast_swap_and_power_good_ignored": _fast_swap_and_power_good_ignored,
    "bad_stored_setting_is_fatal": _bad_stored_setting_is_fatal,
    "flood_starves_the_loop": _flood_starves_the_loop,
    "off_not_resent": _off_not_resent,
}


@contextmanager
def planted(name: str):
    saved = []

    def patch(owner, attr, value):
        saved.append((owner, attr, owner.__dict__[attr]))
        setattr(owner, attr, value)

    PLANTS[name](patch)
    try:
        yield
    finally:
        for owner, attr, value in reversed(saved):
            setattr(owner, attr, value)
