"""hypothesis over the hbctl command line, against one virtual board (the session's cli_board):
argument values of every kind (NaN, infinities, huge, negative, empty, unicode, text where a
number goes, numbers in and out of the board's limits) for every verb. Each run ends in exit 0
with an output that is true of the board, or in one stderr line and a non-zero exit with the
board's settings as they were; never a hang, a traceback or an internal error.

A bounded slice in the default suite: a few examples per verb. Valid values stay where the
shared board can be put back at once (a heartbeat contract of 2 minutes or more, a curtailment
above 0 %); the rest of each range is exercised by the refusals."""

from __future__ import annotations

import json
import os
import signal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hil_tests.cli_run import Run, hbctl
from hil_tests.cli_run import settings as board_settings
from hostlib import signals
from hostlib.link import Link
from hostlib.sim.virtual import VirtualBoard

pytestmark = [pytest.mark.mpy, pytest.mark.usefixtures("sim_only")]

EXAMPLES = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

BAD = st.sampled_from(["nan", "NaN", "inf", "-inf", "1e999", "-1e999", "", " ", "abc", "1,5", "0x1F", "½",
                       "٣", "1e", "None", "true", "-0", "9" * 40, "-" + "9" * 30, "1e-320", "\u00a0"])
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)


def number_text(lo: float, hi: float):
    """A number's text: inside lo..hi, just outside it, huge, negative, or not a number at all."""
    return st.one_of(BAD, TEXT,
                     st.floats(lo, hi).map(lambda v: f"{v:.4g}"),
                     st.floats(allow_nan=True, allow_infinity=True).map(repr),
                     st.integers(-10**12, 10**12).map(str),
                     st.sampled_from([f"{lo - 1:g}", f"{hi + 1:g}", f"{lo:g}", f"{hi:g}"]))


def maybe(flag: str, values):
    return st.one_of(st.just([]), values.map(lambda v: [flag, v]))


@pytest.fixture
def vb(cli_board):
    return cli_board


def status(vb) -> dict:
    with Link(vb.port, timeout=10) as link:
        return link.request("status")


def request(vb, op: str, **args):
    with Link(vb.port, timeout=10) as link:
        return link.request(op, args)


def check(vb, capsys, argv: list[str], truth) -> Run:
    """Run hbctl; a success must satisfy truth(run), a refusal must change nothing."""
    before = board_settings(vb)
    r = hbctl(capsys, "--port", vb.port, *argv)
    assert "Traceback" not in r.err and "internal error" not in r.err, (argv, r.err)
    if r.code == 0:
        assert r.err == "", (argv, r.err)
        truth(r)
    else:
        lines = r.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("hbctl: error: ") and r.out == "", (argv, r)
        assert board_settings(vb) == before, argv
    return r


JSON = st.sampled_from([[], ["--json"]])
MODULE = st.one_of(st.sampled_from(["0", "1", "2", "3"]), number_text(0, 3))


@EXAMPLES
@given(mhz=number_text(50, 625), module=maybe("--module", MODULE), chip=maybe("--chip", number_text(0, 23)), j=JSON)
def test_freq(vb, capsys, mhz, module, chip, j):
    def truth(r: Run) -> None:
        mods = [int(module[1])] if module else [0, 1, 2]
        want = round(float(mhz), 2)
        targets = {(c["module"], c["index"]): c["target_mhz"] for c in status(vb)["chips"]}
        assert all(targets[(m, int(chip[1]))] == want if chip else
                   all(targets[(m, i)] == want for i in range(24)) for m in mods), (mhz, module, chip)
        assert (json.loads(r.out)["modules"] == mods) if j else (f"{'module' if len(mods) == 1 else 'modules'} "
                                                                  in r.out)
        request(vb, "set_freq", mhz=525.0)

    check(vb, capsys, ["freq", mhz, *module, *chip, *j], truth)


@EXAMPLES
@given(volts=number_text(4.0, 5.0), module=maybe("--module", MODULE), j=JSON)
def test_vout(vb, capsys, volts, module, j):
    def truth(r: Run) -> None:
        goals = {m["slot"]: m["vout_goal"] for m in status(vb)["modules"]}
        for m in [int(module[1])] if module else [0, 1, 2]:
            assert goals[m] == pytest.approx(float(volts), abs=1e-3)
        request(vb, "set_vout", volts=4.6)

    check(vb, capsys, ["vout", volts, *module, *j], truth)


@EXAMPLES
@given(target=st.one_of(number_text(1, 1600), st.just(None)), j=JSON)
def test_power(vb, capsys, target, j):
    def truth(r: Run) -> None:
        p = status(vb)["power"]
        assert p["target_w"] == (None if target is None else pytest.approx(float(target)))
        request(vb, "power", target_w=None)

    check(vb, capsys, ["power", *(["--off"] if target is None else ["--target", target]), *j], truth)


@EXAMPLES
@given(level=st.one_of(number_text(1, 100), st.integers(1, 100).map(str)), j=JSON)
def test_curtail_and_resume(vb, capsys, level, j):
    try:
        if int(level, 10) == 0:
            level = "x"  # curtail 0 powers every module off: test_virtual_board's case, not here
    except ValueError:
        pass

    def truth(r: Run) -> None:
        p = status(vb)["power"]
        assert p["curtailed"] and p["curtail_level"] == int(level)
        check(vb, capsys, ["resume", *j], lambda r2: None)
        assert not status(vb)["power"]["curtailed"]

    check(vb, capsys, ["curtail", "--level", level, *j], truth)


@EXAMPLES
@given(policy=maybe("--policy", st.one_of(st.sampled_from(["hold", "curtail", "off", "none"]), TEXT)),
       after=maybe("--after", st.one_of(number_text(120, 3600), BAD)), j=JSON)
def test_heartbeat(vb, capsys, policy, after, j):
    if after and policy and policy[1] in ("curtail", "off"):
        try:
            if float(after[1]) < 120:
                after = ["--after", "nan"]  # a short contract would apply its policy to the shared board
        except ValueError:
            pass

    def truth(r: Run) -> None:
        armed = status(vb)["heartbeat"]["armed"]
        if policy and policy[1] != "none":
            assert armed == {"policy": policy[1], "timeout_s": float(after[1])}
            request(vb, "heartbeat", policy=None)
        else:
            assert armed is None

    check(vb, capsys, ["heartbeat", *policy, *after, *j], truth)


@EXAMPLES
@given(goal=st.one_of(st.sampled_from([["--off"], ["--status"], ["--efficiency"]]),
                      st.tuples(st.sampled_from(["--power", "--hashrate", "--efficiency"]),
                                number_text(1, 1500)).map(list)),
       module=maybe("--module", MODULE), wait=maybe("--wait", number_text(0, 10)), j=JSON)
def test_tune(vb, capsys, goal, module, wait, j):
    def truth(r: Run) -> None:
        mode = request(vb, "tune_status")["mode"] if not module else None
        if module is None or not module:
            want = {"--power": "power", "--hashrate": "hashrate", "--efficiency": "efficiency"}.get(goal[0])
            assert want is None or mode == want, (goal, mode)
        request(vb, "tune", mode="off")
        request(vb, "power", target_w=None)

    # a valid --wait is followed by --wait 0: the goal is set and checked, never followed for minutes
    check(vb, capsys, ["tune", *goal, *module, *wait, "--wait", "0", *j], truth)


@EXAMPLES
@given(module=maybe("--module", MODULE), j=JSON)
def test_clear(vb, capsys, module, j):
    check(vb, capsys, ["clear", *module, *j], lambda r: None)


@EXAMPLES
@given(module=MODULE, add=maybe("--add", st.one_of(st.sampled_from(["reflow", "tested_ok"]), TEXT)),
       chip=maybe("--chip", number_text(0, 23)), date=maybe("--date", st.one_of(
           st.dates().map(str), TEXT, st.sampled_from(["2199-06-06", "2199-06-07", "2019-12-31"]))), j=JSON)
def test_repairs(vb, capsys, module, add, chip, date, j):
    def truth(r: Run) -> None:
        if add:
            last = json.loads(r.out)[-1] if j else r.out.splitlines()[-1]
            assert add[1] in (last["action"] if j else last)

    check(vb, capsys, ["repairs", module, *add, *chip, *date, *j], truth)


@EXAMPLES
@given(module=MODULE, serial=TEXT, vout=maybe("--vout-mv", number_text(4000, 5000)),
       grade=maybe("--grade", number_text(0, 255)), date=maybe("--date", TEXT))
def test_provision_never_replaces_without_force(vb, capsys, module, serial, vout, grade, date):
    r = check(vb, capsys, ["provision", "module", module, "--serial", serial, *vout, *grade, *date],
              lambda r: pytest.fail("an identity was replaced without --force"))
    assert r.code != 0


@EXAMPLES
@given(module=MODULE, j=JSON)
def test_profile_save(vb, capsys, module, j):
    def truth(r: Run) -> None:
        m = int(module)
        targets = [c["target_mhz"] for c in status(vb)["chips"] if c["module"] == m]
        if j:
            assert json.loads(r.out)["freqs"] == pytest.approx(targets)
        assert f"module {m}: profile #" in r.out or j

    check(vb, capsys, ["profile", "save", module, *j], truth)


@EXAMPLES
@given(capture=st.one_of(TEXT, st.binary(max_size=64).map(bytes.hex)), chip=maybe("--chip", TEXT),
       form=st.sampled_from([[], ["--json"], ["--text"], ["--binary"]]))
def test_decode(tmp_path_factory, capsys, capture, chip, form):
    f = tmp_path_factory.mktemp("cap") / "capture.hex"
    f.write_text(capture)
    r = hbctl(capsys, "decode", str(f), *chip, *form)
    assert "Traceback" not in r.err and "internal error" not in r.err
    if r.code == 0:
        lines = r.out.splitlines()
        assert all(" crc " in x for x in lines) if "--text" in form else all(
            {"kind", "crc_ok"} <= set(json.loads(x)) for x in lines)
    else:
        assert len(r.err.splitlines()) == 1 and r.out == ""


class _NotStarted(Exception):
    pass


@EXAMPLES
@given(verb=st.sampled_from(["sim", "demo"]), heap=maybe("--heap", st.one_of(TEXT, st.sampled_from(
           ["320k", "1m", "0x50000", "320wk", "699", "10g", "320kb", "010k"]))),
       speed=maybe("--speed", number_text(0.1, 1000)), seed=maybe("--seed", number_text(0, 2**31 - 1)),
       board=maybe("--board", st.one_of(TEXT, st.just("bitaxe-gamma"))),
       fault=maybe("--fault", st.one_of(TEXT, st.just("vrm:1:ot"), st.just("chip:9.0:dead"))))
def test_sim_and_demo_check_everything_before_starting(monkeypatch, capsys, verb, heap, speed, seed, board, fault):
    """Nothing starts (VirtualBoard.start is replaced): every value is either refused in one line,
    or reaches a start that would have run."""
    if verb == "demo" and heap:
        heap = []
    started = []

    def start(self):
        started.append(self)
        raise signals.Stopped(signal.SIGTERM)  # as if stopped while it started

    monkeypatch.setattr(VirtualBoard, "start", start)
    monkeypatch.setattr(VirtualBoard, "stop", lambda self: None)
    r = hbctl(capsys, verb, *heap, *speed, *seed, *board, *fault)
    assert len(r.err.splitlines()) == 1 and "Traceback" not in r.err and "internal error" not in r.err, r.err
    if started:
        assert r.code == 128 + signal.SIGTERM and "before the virtual board was ready" in r.err
    else:
        assert r.code in (1, 2), r


@EXAMPLES
@given(verb=st.sampled_from(["bundle", "flash"]), board=maybe("--board", TEXT),
       arch=maybe("--arch", TEXT), wait=maybe("--wait", st.one_of(BAD, st.sampled_from(["-1", "-0.5"]))))
def test_bundle_and_flash_refuse_bad_values_before_building(capsys, verb, board, arch, wait):
    if not board or board[1] in ("modular-4x", "bitaxe-gamma"):
        board = ["--board", "no-such-board"]  # refused before any build, whatever else is valid
    if verb == "bundle":
        wait = []
    r = hbctl(capsys, "--port", os.devnull + "-not-a-port", verb, *board, *arch, *wait)
    Run(r.code, r.out, r.err).refused()


@EXAMPLES
@given(timeout=maybe("--timeout", number_text(0.5, 10)), port=st.one_of(TEXT, st.just("/dev/does-not-exist")),
       i2c=maybe("--i2c", TEXT), verb=st.sampled_from(["status", "info", "curtail", "resume", "power"]))
def test_global_options(capsys, timeout, port, i2c, verb):
    """A port or I2C bus that is not there, or a bad --timeout: one line, non-zero, at once."""
    if verb == "power":
        verb = "power --off"
    r = hbctl(capsys, *timeout, "--port", port or "/dev/does-not-exist", *i2c, *verb.split())
    assert r.code != 0 and len(r.err.splitlines()) == 1 and "Traceback" not in r.err, r


@pytest.mark.parametrize("verb", ["status", "info", "modules", "events", "boards", "profiles"])
def test_read_only_verbs_in_both_forms(vb, capsys, verb):
    port = [] if verb == "boards" else ["--port", vb.port]
    before = board_settings(vb)
    human = hbctl(capsys, *port, verb).ok()
    doc = hbctl(capsys, *port, verb, "--json").ok()
    assert human.out.strip() and not human.out.lstrip().startswith(("{", "["))
    for line in doc.out.splitlines():
        json.loads(line)
    assert board_settings(vb) == before
