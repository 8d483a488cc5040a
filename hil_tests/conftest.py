"""Test options and fixtures. `--board sim` (default) runs everything against emulators:
the fast lane in-process and the authentic lane on the real MicroPython unix port. Any other
value is a real board's pyserial port: tests that need emulator fault injection are skipped."""

from __future__ import annotations

import pytest
from hypothesis import settings

from hil_tests.board_time import settle_hashing
from hostlib.sim.fastlane import FastBoard

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci")

SIM_SPEED = 10.0


def pytest_addoption(parser):
    parser.addoption("--board", default="sim",
                     help="'sim' for virtual boards, or a real board's port / pyserial URL")


@pytest.fixture(scope="session")
def board_target(request) -> str:
    return request.config.getoption("--board")


@pytest.fixture(scope="session")
def on_sim(board_target) -> bool:
    return board_target == "sim"


@pytest.fixture
def sim_only(on_sim):
    if not on_sim:
        pytest.skip("needs emulator fault injection (virtual board only)")


@pytest.fixture
def fast():
    """Factory for in-process boards: fast(board='modular-4x', faults=(...), seed=0)."""

    def make(board="modular-4x", **kw):
        return FastBoard(board, **kw)

    return make


@pytest.fixture(scope="session")
def shared_vboard(on_sim):
    """One virtual modular-4x for read-only tests of the authentic lane."""
    if not on_sim:
        yield None
        return
    from hostlib.sim.virtual import VirtualBoard

    with VirtualBoard(speed=SIM_SPEED) as vb:
        assert vb.wait_ready(60), "virtual board never left booting"
        settle_hashing(vb)
        yield vb


@pytest.fixture(scope="session")
def cli_board(on_sim):
    """One virtual modular-4x (x10, slot 3 emptied) per worker for the hbctl tests, which change
    settings and put every change back; shared so that each worker boots it once."""
    if not on_sim:
        pytest.skip("needs a virtual board")
    from hil_tests.cli_run import wait_module
    from hostlib.sim.virtual import VirtualBoard

    with VirtualBoard(speed=SIM_SPEED) as vb:
        assert vb.wait_ready(60), "virtual board never left booting"
        settle_hashing(vb)
        vb.remove_module(3)
        wait_module(vb, 3, ("empty",))
        yield vb


@pytest.fixture
def port(board_target, shared_vboard) -> str:
    """The port under test: the shared virtual board's pty, or the real board's port."""
    return shared_vboard.port if shared_vboard is not None else board_target
