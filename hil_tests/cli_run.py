"""Running hbctl in tests: in-process (`hostlib.cli.main` with captured stdout and stderr) where
the case is about what hbctl says and does, as a process where it is about process behaviour
(signals, pipes, two programs on one port); and what a board keeps, to show a refusal changed
nothing."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hostlib import cli
from hostlib.link import Link

HBCTL = str(Path(sys.executable).with_name("hbctl"))


@dataclass
class Run:
    code: int
    out: str
    err: str

    def refused(self, *needles: str) -> "Run":
        """Non-zero exit, nothing on stdout, one stderr line naming the problem, no traceback."""
        assert self.code != 0, (self.out, self.err)
        lines = self.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("hbctl: error: "), self.err
        assert self.out == "", self.out
        for n in needles:
            assert n in lines[0], (n, lines[0])
        return self

    def ok(self) -> "Run":
        assert self.code == 0 and self.err == "", (self.code, self.err)
        return self


class SharedBoard:
    """One virtual board for the files in `files`, started on demand, stopped by conftest when
    the worker's next test is in another file."""

    def __init__(self, speed: float = 10.0) -> None:
        self.speed = speed
        self.vb = None
        self.files: set[str] = set()

    def get(self):
        if self.vb is None:
            from hil_tests.board_time import settle_hashing
            from hostlib.sim.virtual import VirtualBoard

            vb = VirtualBoard(speed=self.speed)
            vb.start()
            try:
                assert vb.wait_ready(60), "virtual board never left booting"
                settle_hashing(vb)
                vb.remove_module(3)
                wait_module(vb, 3, ("empty",))
            except BaseException:
                vb.stop()
                raise
            self.vb = vb
        return self.vb

    def stop(self) -> None:
        if self.vb is not None:
            self.vb.stop()
            self.vb = None


CLI_BOARD = SharedBoard()


def hbctl(capsys, *argv: str) -> Run:
    """hbctl in this process; stdout and stderr as captured."""
    code = cli.main([str(a) for a in argv])
    c = capsys.readouterr()
    return Run(code, c.out, c.err)


def hbctl_process(*argv: str, timeout: float = 120, **kw) -> Run:
    r = subprocess.run([HBCTL, *map(str, argv)], capture_output=True, text=True, timeout=timeout, **kw)
    return Run(r.returncode, r.stdout, r.stderr)


def settings(vb) -> dict:
    """What a refusal must leave as it was: the board's power, curtailment and heartbeat
    settings, every chip's frequency target, every module's voltage goal and EEPROM."""
    with Link(vb.port, timeout=10) as link:
        st = link.request("status")
    return {"power": {k: st["power"][k] for k in ("target_w", "curtailed", "curtail_level")},
            "heartbeat": st["heartbeat"]["armed"],
            "targets": [(c["module"], c["index"], c["target_mhz"]) for c in st["chips"]],
            "vout": [(m["slot"], m["state"] != "empty" and m["vout_goal"]) for m in st["modules"]],
            "eeproms": [vb.module_eeprom(m["slot"]) for m in st["modules"] if m["state"] != "empty"]}


def wait_module(vb, slot: int, states: tuple[str, ...], board_s: float = 30.0) -> dict:
    """Wait (board time) until module `slot` is in one of `states`; its status entry."""
    t0 = vb.board_ms()
    while True:
        with Link(vb.port, timeout=10) as link:
            m = link.request("status")["modules"][slot]
        if m["state"] in states or vb.board_ms() - t0 > board_s * 1000:
            return m
        vb.wait_board(0.3)
