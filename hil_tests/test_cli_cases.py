"""Issue 12's cases replayed as a new user met them, on one virtual board (the real MicroPython
unix port, x10; slot 3 emptied): every output is true, every bad value is refused before it
reaches the board (and by the board itself when sent anyway), and a refusal changes nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from hil_tests.cli_run import HBCTL, hbctl, hbctl_process, settings, wait_module
from hostlib import bundle
from hostlib.errors import RemoteError
from hostlib.link import Link

pytestmark = [pytest.mark.mpy, pytest.mark.usefixtures("sim_only")]


@pytest.fixture
def vb(cli_board):
    return cli_board


def board_refuses(vb, op: str, args: dict, code: str, needle: str) -> None:
    """The board's own check, for a host that skips hbctl's."""
    with Link(vb.port, timeout=10) as link:
        with pytest.raises(RemoteError) as e:
            link.request(op, args)
    assert e.value.code == code and needle in e.value.message, (e.value.code, e.value.message)


# 1, 2: non-finite numbers and the one --timeout
@pytest.mark.parametrize("argv, named", [
    (["freq", "nan"], "mhz: 'nan'"), (["vout", "inf"], "volts: 'inf'"),
    (["power", "--target", "nan"], "--target: 'nan'"), (["heartbeat", "--policy", "hold", "--after", "nan"], "'nan'"),
    (["heartbeat", "--timeout", "0"], "renamed --after"), (["--timeout", "0", "status"], "must be above 0"),
    (["heartbeat", "--policy", "curtail", "--after", "0"], "heartbeat timeout 0 s is outside 1..3600 s"),
    # found by the verification after the fixes: a wait the OS clock cannot hold, tune's values
    (["--timeout", "1e10", "info"], "more than a day"), (["tune", "--power", "1e9", "--wait", "0"], "outside (0, 1600] W"),
    (["tune", "--power", "500", "--module", "7", "--wait", "0"], "module 7 is outside 0..3"),
    (["tune", "--status", "--module", "9"], "module 9 is outside 0..3"), (["profiles", "99"], "module 99 is outside"),
])
def test_non_finite_and_out_of_range_values_are_refused_before_sending(vb, capsys, argv, named):
    before = settings(vb)
    hbctl(capsys, "--port", vb.port, *argv).refused(named)
    assert settings(vb) == before


def test_the_boards_structured_error_reaches_the_user(vb, capsys):
    r = hbctl(capsys, "--port", vb.port, "provision", "module", "2", "--serial", "OTHER")
    r.refused("board refused: module 2 already has identity", "(exists)")
    board_refuses(vb, "set_freq", {"mhz": 9999}, "out_of_range", "9999 MHz is outside 50..625 MHz")
    board_refuses(vb, "heartbeat", {"policy": "hold", "timeout_s": 0}, "out_of_range", "outside 1..3600 s")


# 3: no hidden default
def test_heartbeat_without_flags_beats_and_reports_changing_nothing(vb, capsys):
    before = settings(vb)
    r = hbctl(capsys, "--port", vb.port, "heartbeat").ok()
    assert "no contract armed" in r.out and settings(vb) == before
    help_ = hbctl(capsys, "heartbeat", "--help").out
    assert "There is no default policy or time" in " ".join(help_.split())
    hbctl(capsys, "--port", vb.port, "heartbeat", "--policy", "curtail").refused("needs --after")
    hbctl(capsys, "--i2c", f"{vb.control_path}:0x30", "heartbeat", "--policy", "off").refused("only beats")
    r = hbctl(capsys, "--port", vb.port, "heartbeat", "--policy", "hold", "--after", "600", "--json").ok()
    assert json.loads(r.out) == {"policy": "hold", "timeout_s": 600.0}
    r = hbctl(capsys, "--port", vb.port, "heartbeat").ok()
    assert "contract: 'hold' after 600 s" in r.out
    hbctl(capsys, "--port", vb.port, "heartbeat", "--policy", "none").ok()
    assert settings(vb) == before


# 4: a refused write is an error over I2C too
def test_i2c_power_target_refused_by_the_board_is_an_error(vb, capsys):
    i2c = ["--i2c", f"{vb.control_path}:0x30"]
    hbctl(capsys, *i2c, "power", "--target", "5000").refused("board refused power target 5000 W (out_of_range)")
    hbctl(capsys, *i2c, "power", "--target", "900.5").refused("whole watts")
    r = hbctl(capsys, *i2c, "power", "--target", "900", "--json").ok()
    assert json.loads(r.out)["target_w"] == 900 and json.loads(r.out)["result"] == "ok"
    assert "power target removed" in hbctl(capsys, *i2c, "power", "--off").ok().out


# 5, 6: identity values outside the board's limits or not ASCII: refused, nothing written
@pytest.mark.parametrize("argv, named", [
    (["--serial", "MOD-2", "--vout-mv", "9999"], "vout_mv 9999 mV is outside 4000..5000 mV"),
    (["--serial", "ÄÖÜßÄÖÜßÄÖÜßÄÖÜß"], "serial must be printable ASCII"),
    (["--serial", "X" * 17], "at most 16 characters"),
    (["--serial", " "], "must not begin or end with a space"),  # read back as a blank serial
])
def test_provision_refuses_values_the_record_cannot_hold(vb, capsys, argv, named):
    before = settings(vb)
    hbctl(capsys, "--port", vb.port, "provision", "module", "2", *argv, "--force").refused(named)
    assert settings(vb) == before


def test_the_board_refuses_them_too(vb):
    before = settings(vb)
    for args, code, needle in (({"vout_mv": 9999, "serial": "M"}, "out_of_range", "9999 mV"),
                               ({"serial": "ÄÖÜßÄÖÜßÄÖÜßÄÖÜß"}, "bad_args", "printable ASCII"),
                               ({"serial": "MOD-2 "}, "bad_args", "with a space")):
        board_refuses(vb, "provision", {"target": "module", "module": 2, "force": True, **args}, code, needle)
    assert settings(vb) == before and wait_module(vb, 2, ("hashing",), 0)["state"] == "hashing"


# 7: an empty slot
@pytest.mark.parametrize("argv", [["freq", "500", "--module", "3"], ["vout", "4.5", "--module", "3"],
                                  ["clear", "--module", "3"], ["repairs", "3"], ["profile", "save", "3"],
                                  ["tune", "--power", "300", "--module", "3", "--wait", "0"]])
def test_commands_for_an_empty_slot_are_refused(vb, capsys, argv):
    before = settings(vb)
    hbctl(capsys, "--port", vb.port, *argv).refused("slot 3 is empty")
    assert settings(vb) == before


def test_usage_mistakes_exit_2(capsys):
    for argv in (["--i2c", "foo", "status"], ["--i2c", "/x:0x999", "status"], ["bundle", "--board", "nope"]):
        r = hbctl(capsys, *argv).refused()
        assert r.code == 2, (argv, r.code)


def test_the_board_refuses_an_empty_slot_and_says_which_modules_it_set(vb, capsys):
    board_refuses(vb, "set_freq", {"mhz": 500, "module": 3}, "bad_args", "slot 3 is empty")
    board_refuses(vb, "set_vout", {"volts": 4.5, "module": 3}, "bad_args", "slot 3 is empty")
    board_refuses(vb, "tune", {"mode": "power", "target": 300, "module": 3}, "bad_args", "slot 3 is empty")
    r = hbctl(capsys, "--port", vb.port, "freq", "525", "--json").ok()
    assert json.loads(r.out)["modules"] == [0, 1, 2]
    assert "on modules 0, 1, 2" in hbctl(capsys, "--port", vb.port, "freq", "525").ok().out


# 8: clear never restarts; it says what it did and what restarts the module
def test_clear_says_what_it_cleared_and_resume_restarts(vb, capsys):
    vb.inject("vrm:1:ot")
    assert wait_module(vb, 1, ("fault",))["state"] == "fault"
    vb.clear("vrm:1:ot")
    r = hbctl(capsys, "--port", vb.port, "clear", "--module", "1").ok()
    assert "module 1: fault" in r.out and "now off; `hbctl resume` restarts it" in r.out
    vb.wait_board(2)
    assert wait_module(vb, 1, ("off",), 0)["state"] == "off"  # cleared, not restarted
    hbctl(capsys, "--port", vb.port, "resume").ok()
    assert wait_module(vb, 1, ("hashing",))["state"] == "hashing"


# 9: an empty slot's sensors read nothing
def test_an_empty_slots_sensors_are_not_valid_and_not_called_unreadable(vb, capsys):
    st = json.loads(hbctl(capsys, "--port", vb.port, "status", "--json").ok().out)
    m3 = [t for t in st["temps"] if t["module"] == 3]
    assert m3 and all(t["celsius"] is None and not t["ok"] and t["error"] == "empty" for t in m3)
    assert "sensor m3" not in hbctl(capsys, "--port", vb.port, "status").ok().out


# 10: one program per port
def test_a_second_program_on_the_port_is_told_who_holds_it(vb, capsys):
    follower = subprocess.Popen([HBCTL, "--port", vb.port, "events", "--follow", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert follower.stdout.readline()  # it holds the port: its first event is out
        r = hbctl(capsys, "--port", vb.port, "status")
        r.refused(f"port {vb.port} busy (held by PID {follower.pid}: hbctl --port {vb.port} events --follow")
        assert follower.poll() is None
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(30)
    hbctl(capsys, "--port", vb.port, "info").ok()


# 11: flash on a silent port prints nothing on stdout
@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    """A valid bundle directory of one file: what flash sends does not matter to a silent port,
    and building the real one would cost seconds."""
    files = {"hbmain.mpy": b"M"}
    manifest = {"format": bundle.FORMAT, "version": "0", "board": "modular-4x", "arch": "armv6m",
                "files": bundle._entries(files), "loader": bundle._entries({})}
    manifest["bundle"] = bundle._bundle_hash(manifest)
    out = tmp_path_factory.mktemp("bundle")
    bundle.write(bundle.Bundle(manifest, files, {}), out)
    return out


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_flash_on_a_silent_port_says_so_in_one_line_only(capsys, tiny_bundle, json_flag):
    master, slave = os.openpty()
    try:
        r = hbctl(capsys, "--port", os.ttyname(slave), "--timeout", "1", "flash", "--bundle", tiny_bundle, *json_flag)
        r.refused("does not answer at the REPL")
    finally:
        os.close(master)
        os.close(slave)


# 12: sim checks its values before it starts; signals end it at once, cleanly
def _no_leftovers(tmp) -> list[str]:
    """What a stopped hbctl left in its TMPDIR, each with what it holds (for a failure to say)."""
    return [f"{p} ({'dir: ' + ', '.join(sorted(os.listdir(p))) if p.is_dir() and not p.is_symlink() else 'file'})"
            for p in tmp.iterdir()]


def test_sim_refuses_a_bad_heap_before_starting(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    hbctl_process("sim", "--heap", "abc", env=env).refused("--heap: 'abc' is not a heap size")
    assert _no_leftovers(tmp_path) == []


def test_sim_whose_board_cannot_boot_says_why_at_once(capsys):
    hbctl(capsys, "sim", "--heap", "100k", "--speed", "10").refused("failed to boot: MemoryError")


def test_sigterm_before_the_board_is_ready_stops_sim_non_zero_and_clean(tmp_path):
    p = subprocess.Popen([HBCTL, "sim", "--speed", "10"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        while not any(tmp_path.iterdir()) and p.poll() is None:  # the board is starting
            time.sleep(0.01)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 128 + signal.SIGTERM and out == ""
    assert err.strip() == "hbctl: error: stopped by SIGTERM before the virtual board was ready"
    assert _no_leftovers(tmp_path) == []


# 13: pipes, --json everywhere, the repair log's flags and dates, a target during a curtailment
def test_a_closed_pipe_ends_quietly(vb):
    r, w = os.pipe()
    os.close(r)  # `| head -1` already gone
    try:
        p = subprocess.run([HBCTL, "--port", vb.port, "status"], stdout=w, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(w)
    assert p.returncode == 141 and p.stderr == b""


def test_repairs_flags_and_dates_are_checked_and_named(vb, capsys):
    hbctl(capsys, "--port", vb.port, "repairs", "2", "--chip", "7").refused("use them with --add")
    hbctl(capsys, "--port", vb.port, "repairs", "2", "--add", "reflow", "--date", "2199-12-31").refused(
        "holds dates 2020-01-01 .. 2199-06-06")
    hbctl(capsys, "--port", vb.port, "repairs", "2", "--add", "reflow", "--chip", "24").refused("chip 24 is outside 0..23")


def test_a_power_target_during_a_curtailment_keeps_it_and_says_so(vb, capsys):
    hbctl(capsys, "--port", vb.port, "curtail", "--level", "50").ok()
    r = hbctl(capsys, "--port", vb.port, "power", "--target", "700").ok()
    assert "stays curtailed until `hbctl resume`" in r.out
    with Link(vb.port, timeout=10) as link:
        p = link.request("status")["power"]
    assert p["curtailed"] and p["curtail_level"] == 50 and p["target_w"] == 700
    r = hbctl(capsys, "--port", vb.port, "resume").ok()
    assert "back to the power target 700 W" in r.out
    hbctl(capsys, "--port", vb.port, "power", "--off").ok()
