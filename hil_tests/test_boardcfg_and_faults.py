"""Board definitions and fault specs: valid ones load, bad ones are named precisely."""

import copy
import json

import pytest

from hashboard import boardcfg
from hostlib import boards
from hostlib.sim.faults import FaultSpecError, parse


@pytest.mark.parametrize("name", ["modular-4x", "bitaxe-gamma"])
def test_shipped_boards_validate(name):
    cfg = boards.load(name)
    assert cfg["name"] == name


def test_unknown_board_names_the_known_ones():
    with pytest.raises(boardcfg.BoardError, match="unknown board 'nope'.*modular-4x"):
        boards.load("nope")


@pytest.mark.parametrize("path,value,message", [
    (("limits", "vout", "default"), 9.0, "limits.vout.default: 9.0 is above 5.0"),
    (("limits", "vout", "min"), "low", "limits.vout.min: must be a number"),
    (("limits", "freq_mhz", "max"), 10.0, "limits.freq_mhz.max: 10.0 is below 50.0"),
    (("limits", "thermal", "hot_c"), 10.0, "limits.thermal.hot_c: 10.0 is below 65.0"),
    (("module", "chips"), 0, "module.chips: 0 is below 1"),
    (("chip",), "BM9999", "chip: unsupported chip BM9999"),
])
def test_bad_field_is_named(path, value, message):
    cfg = copy.deepcopy(boards.load("modular-4x"))
    node = cfg
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    with pytest.raises(boardcfg.BoardError) as e:
        boardcfg.validate(cfg)
    assert str(e.value).startswith(message)


def test_missing_field_and_bad_json():
    cfg = copy.deepcopy(boards.load("modular-4x"))
    del cfg["limits"]["heartbeat_timeout_s"]
    with pytest.raises(boardcfg.BoardError, match="limits.heartbeat_timeout_s: missing"):
        boardcfg.validate(cfg)
    with pytest.raises(boardcfg.BoardError, match="not valid JSON"):
        boardcfg.loads("{nope")
    cfg = copy.deepcopy(boards.load("modular-4x"))
    cfg["slots"][2]["sensors"][0]["type"] = "lm75"
    with pytest.raises(boardcfg.BoardError, match="slots.2.sensors.0.type: unknown sensor type lm75"):
        boardcfg.loads(json.dumps(cfg))


SENSORS = ["m0.inlet", "m2.outlet"]


@pytest.mark.parametrize("spec,kind", [
    ("chip:0.3:dead", "chip"), ("chip:3.23:unstable", "chip"), ("link:2.9", "link"),
    ("vrm:1:nack", "vrm"), ("sensor:m2.outlet:stuck", "sensor"), ("uart:0:noise=0.01", "uart"),
    ("ambient:45", "ambient"), ("airflow:0.3", "airflow"), ("aging:1.7:20", "aging"),
    ("cooling:2:1.8", "cooling"),
])
def test_valid_fault_specs_roundtrip(spec, kind):
    f = parse(spec, 4, 24, SENSORS)
    assert f.kind == kind and parse(f.spec, 4, 24, SENSORS) == f


@pytest.mark.parametrize("spec", ["chip:4.0:dead", "chip:0.24:dead", "chip:0.1:melted", "link:2",
                                  "vrm:0:fire", "sensor:m9.inlet:open", "uart:0:noise=2",
                                  "ambient:hot", "bogus", "wobble:1", "", "aging:1:20", "aging:1.7",
                                  "aging:1.24:5", "cooling:2:0.5", "cooling:4:2", "cooling:1"])
def test_malformed_fault_specs_name_the_spec(spec):
    with pytest.raises(FaultSpecError) as e:
        parse(spec, 4, 24, SENSORS)
    assert repr(spec) in str(e.value)


def test_an_aging_chip_loses_its_edge_over_board_time_and_keeps_what_it_lost():
    from hostlib.sim.simboard import SimBoard
    sim = SimBoard(boards.load("modular-4x"), seed=3)
    chip = sim.modules[1].model.chips[7]
    model = sim.modules[1].model
    before = model.fmax(chip, 1.15, 60.0)
    sim.inject("aging:1.7:36")  # 36 MHz an hour: 0.01 MHz a board second
    model.step(1800.0, 25.0, 1.0)  # half an hour
    assert model.fmax(chip, 1.15, 60.0) == pytest.approx(before - 18.0, abs=0.01)
    sim.clear("aging:1.7:36")
    model.step(1800.0, 25.0, 1.0)
    assert model.fmax(chip, 1.15, 60.0) == pytest.approx(before - 18.0, abs=0.01)  # silicon does not heal


def test_a_cooling_fault_multiplies_the_heat_sinks_resistance():
    from hostlib.sim.simboard import SimBoard
    sim = SimBoard(boards.load("modular-4x"), seed=3)
    a, b = sim.modules[0].model, sim.modules[2].model
    sim.inject("cooling:2:1.8")
    for m in (a, b):  # both modules running alike (their regulators are off: set the string)
        m.vs = 4.6
        for c in m.chips:
            c.f_mhz = 525.0
    for _ in range(120):  # 20 minutes: both sinks at steady state
        a.step(10.0, 25.0, 1.0)
        b.step(10.0, 25.0, 1.0)
    rise_a = (a.t_sink - 25.0) / a.power()
    rise_b = (b.t_sink - 25.0) / b.power()
    assert rise_b == pytest.approx(1.8 * rise_a, rel=0.02)
