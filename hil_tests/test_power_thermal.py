"""Power and thermal safety on the fast lane: every scenario also checks that no regulator was
ever commanded outside the board's limits and that no module stayed powered above dangerous."""

import json

import pytest


class Watch:
    """Steps the board one control period at a time and records safety violations."""

    def __init__(self, fb):
        self.fb = fb
        lim = fb.cfg["limits"]
        self.danger = lim["thermal"]["dangerous_c"]
        self.hot_periods = 0

    def run(self, ms):
        end = self.fb.clock.ms + ms
        while self.fb.clock.ms < end:
            self.fb.run_for(100)
            for hw in self.fb.sim.modules:
                if hw is None or not hw.vrm.enabled():
                    continue
                reading = max(s.source() for s in hw.sensors.values() if hasattr(s, "source"))
                if reading >= self.danger + 0.5:
                    self.hot_periods += 1

    def safe(self):
        assert self.fb.sim.vrm_commands_outside() == []
        assert self.hot_periods <= 1


def events(fb):
    return json.loads(fb.request("events", since=0)[4:])["data"]


@pytest.fixture
def board(fast):
    fb = fast()
    w = Watch(fb)
    w.run(8000)
    return fb, w


def test_ambient_ramp_throttles_keeps_hashing_and_recovers(board):
    fb, w = board
    for amb in (30, 35, 40, 45):
        fb.sim.set_ambient(amb)
        w.run(60000)
    st = fb.status()
    assert st["state"] == "throttled"
    for m in st["modules"]:
        assert m["state"] == "throttled" and m["ghs"] > 1000 and m["temp_c"] < 75.0
    assert any(e["kind"] == "throttle" for e in events(fb))
    fb.sim.set_ambient(25)
    w.run(300000)
    st = fb.status()
    assert [m["state"] for m in st["modules"]] == ["hashing"] * 4  # no host help
    w.safe()


def test_airflow_loss_never_overheats(board):
    fb, w = board
    fb.sim.inject("airflow:0.1")
    w.run(240000)
    w.safe()
    st = fb.status()
    assert all(m["temp_c"] is None or m["temp_c"] < 85 for m in st["modules"])


@pytest.mark.parametrize("mode,fault", [("ot", "ot"), ("oc", "oc")])
def test_regulator_trip_shows_with_cause(board, mode, fault):
    fb, w = board
    fb.sim.inject(f"vrm:2:{mode}")
    w.run(1000)
    st = fb.status()
    assert fault in st["regulators"][2]["faults"] and st["modules"][2]["state"] == "fault"
    assert any(e["kind"] == "fault" and e["module"] == 2 for e in events(fb))
    w.safe()


@pytest.mark.parametrize("mode,wait", [("open", 1000), ("short", 1000), ("stuck", 9000)])
def test_failing_sensor_is_unsafe_never_cool(board, mode, wait):
    fb, w = board
    fb.sim.inject(f"sensor:m1.outlet:{mode}")
    w.run(wait)
    st = fb.status()
    m = st["modules"][1]
    assert m["state"] == "fault" and m["cause"].startswith("sensor:m1.outlet")
    t = next(x for x in st["temps"] if x["name"] == "m1.outlet")
    assert t["ok"] is False and t["error"]
    assert fb.sim.modules[1].vrm.vout() == 0.0
    assert [x["state"] for i, x in enumerate(st["modules"]) if i != 1] == ["hashing"] * 3
    fb.sim.clear(f"sensor:m1.outlet:{mode}")
    w.run(40000)
    assert fb.status()["modules"][1]["state"] in ("hashing", "throttled")  # recovered by itself
    w.safe()


def test_curtail_within_two_seconds_and_resume_to_prior_power(board):
    fb, w = board
    w.run(5000)
    full = fb.status()["power_w"]
    fb.request("curtail", level=0)
    w.run(2000)
    st = fb.status()
    assert st["state"] == "curtailed" and st["power_w"] <= 0.05 * full
    fb.request("resume")
    w.run(15000)
    st = fb.status()
    assert st["state"] == "hashing" and st["power_w"] == pytest.approx(full, rel=0.03)
    w.safe()


def test_partial_curtail_and_power_target_hold(board):
    fb, w = board
    w.run(5000)
    full = fb.status()["power_w"]
    fb.request("curtail", level=50)
    w.run(8000)
    assert fb.status()["power_w"] == pytest.approx(full * 0.5, rel=0.06)
    fb.request("resume")
    fb.request("power", target_w=900)
    w.run(8000)
    samples = []
    for _ in range(10):
        w.run(1000)
        samples.append(fb.status()["power_w"])
    assert all(abs(p - 900) / 900 <= 0.05 for p in samples)
    w.safe()


@pytest.mark.parametrize("policy,expect", [("curtail", "curtailed"), ("off", "off"), ("hold", "hashing")])
def test_host_vanishing_applies_the_fail_policy(board, policy, expect):
    fb, w = board
    fb.request("heartbeat", policy=policy, timeout_s=5)
    w.run(7000)  # no requests: the host is gone
    st = fb.app
    assert st.state == expect
    if policy != "hold":
        assert all(hw.vrm.vout() == 0.0 for hw in fb.sim.modules)
    fb.status()  # the host returns
    evs = [e for e in events(fb) if e["kind"] == "heartbeat"]
    assert evs[0]["detail"] == "lost: " + policy and evs[-1]["detail"].startswith("restored")
    w.safe()


def test_flood_of_out_of_range_commands_is_refused(board):
    fb, w = board
    bad = [("set_vout", {"volts": 9.0}), ("set_vout", {"volts": -1}), ("set_vout", {"volts": 3.99}),
           ("set_freq", {"mhz": 9999}), ("set_freq", {"mhz": 49}), ("power", {"target_w": -5}),
           ("power", {"target_w": 1e9}), ("curtail", {"level": 150}), ("curtail", {"level": "x"}),
           ("heartbeat", {"policy": "explode"}), ("heartbeat", {"timeout_s": 0}),
           ("set_freq", {"mhz": 500, "module": 9}), ("set_vout", {"volts": "5"})]
    for _ in range(20):
        for op, args in bad:
            reply = json.loads(fb.request(op, **args)[4:])
            assert reply["ok"] is False and reply["error"]["code"] in ("out_of_range", "bad_args")
        w.run(100)
    w.run(3000)
    lim = fb.cfg["limits"]
    for hw in fb.sim.modules:
        assert lim["vout"]["min"] <= hw.vrm.vout() <= lim["vout"]["max"]
        assert all(hw.chain.freq_of(i) <= lim["freq_mhz"]["max"] for i in range(24))
    assert fb.app.settings["power_target_w"] is None and not fb.app.settings["curtailed"]
    w.safe()


def test_voltage_changes_ramp_in_board_steps(board):
    fb, w = board
    fb.request("set_vout", volts=4.9, module=0)
    seen = []
    for _ in range(10):
        w.run(100)
        seen.append(fb.sim.modules[0].vrm._v(0x21))
    steps = [b - a for a, b in zip(seen, seen[1:]) if abs(b - a) > 1e-6]
    assert steps and max(steps) <= fb.cfg["limits"]["vout"]["step"] + 0.002
    assert seen[-1] == pytest.approx(4.9, abs=0.002)


def test_settings_survive_a_restart_of_the_controller(fast):
    from hashboard.app import App

    fb = fast()
    fb.run_for(8000)
    fb.request("curtail", level=0)
    fb.request("heartbeat", policy="off", timeout_s=20)
    store = fb.app.store
    fb.app = App(fb.cfg, fb.hw, fb.clock, fb.output.append, store)  # a soft reset
    fb.app.start()
    fb.run_for(8000)
    assert fb.app.state == "curtailed" and fb.app.settings["heartbeat"]["policy"] == "off"
    assert all(hw.vrm.vout() == 0.0 for hw in fb.sim.modules)


def test_corrupt_settings_are_ignored():
    from hashboard import settings
    from hostlib import boards

    b = boards.load("modular-4x")
    bad = {"power_target_w": -3, "curtailed": "yes", "curtail_level": 400,
           "heartbeat": {"policy": "maybe", "timeout_s": 0}}
    assert settings.validate(bad, b) == settings.defaults()
    assert settings.validate("garbage", b) == settings.defaults()


def test_partial_curtail_from_boot_sheds_to_its_level_of_nominal(fast):
    """A curtailment asked before any module hashed (a controller restoring it after a reboot)
    has no measured full power: it sheds to its level of the nominal power, not to nothing."""
    fb = fast()
    fb.run_for(100)  # the slots are still empty: the board draws 0 at "every module at default"
    fb.request("curtail", level=50)
    fb.run_for(30000)
    nominal = fb.cfg["limits"]["nominal_power_w"]
    assert fb.status()["power_w"] == pytest.approx(nominal * 0.5, rel=0.1)
