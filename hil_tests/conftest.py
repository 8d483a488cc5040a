"""Test options and fixtures. `--board sim` (default) runs everything against emulators:
the fast lane in-process and the authentic lane on the real MicroPython unix port. Any other
value is a real board's pyserial port: tests that need emulator fault injection are skipped."""

from __future__ import annotations

import pytest
from hypothesis import settings

from hil_tests.board_time import settle_hashing
from hil_tests.cli_run import CLI_BOARD
# the real engines (Mosquitto, Prometheus) as fixtures for every test file
from hil_tests.engines import mosquitto, prometheus  # noqa: F401
from hostlib.sim.fastlane import FastBoard

import os

# The default suite is deterministic: the same examples every run, so a red CI is a reproducible
# red and never the luck of the draw. Exploring new examples is a separate, deliberate act:
# HYPOTHESIS_PROFILE=explore (random, remembered in .hypothesis/), or tools/safety_campaign.py.
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=30, deadline=None, derandomize=True)
settings.register_profile("explore", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

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


@pytest.fixture
def cli_board(on_sim):
    """A virtual modular-4x (x10, slot 3 emptied) for the hbctl tests, which change settings
    and put every change back: started by the first of them on a worker, stopped once the
    worker moves on to files that do not use it (an idle x10 board would take a core)."""
    if not on_sim:
        pytest.skip("needs a virtual board")
    return CLI_BOARD.get()


# The longest tests (a minute or more of wall time each on 2 cores) go first: started last,
# one of them ran alone for minutes while the other worker sat idle (longest-first scheduling).
LONGEST_FIRST = ("test_safety_stateful.py::", "test_tune_real.py::",
                 "test_virtual_board.py::test_ambient_ramp", "test_update.py::test_power_cut_at_any_kind",
                 "test_safety_cases.py::test_case_on_the_real_interpreter", "test_diag.py::test_hbctl_diag",
                 "test_hotswap_scenarios.py::test_all_four_swapped", "test_safety_cases.py::test_case_on_the_fast_lane",
                 "test_power_thermal.py::test_ambient_ramp", "test_hotswap_scenarios.py::test_provisioning",
                 "test_update.py::test_trial_app", "test_diag.py::test_a_sink",
                 "test_security.py::test_a_locked_production_board")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: not any(k in item.nodeid for k in LONGEST_FIRST))  # stable
    CLI_BOARD.files = {item.location[0] for item in items if "cli_board" in item.fixturenames}


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    if nextitem is None or nextitem.location[0] not in CLI_BOARD.files:
        CLI_BOARD.stop()


def pytest_sessionfinish(session):
    CLI_BOARD.stop()  # an interrupted run too


@pytest.fixture
def port(board_target, shared_vboard) -> str:
    """The port under test: the shared virtual board's pty, or the real board's port."""
    return shared_vboard.port if shared_vboard is not None else board_target
