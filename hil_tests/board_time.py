"""Waiting on a virtual board in board time (never in wall time tuned to one machine)."""

from __future__ import annotations


def settle_hashing(vb, board_s: float = 60.0) -> None:
    """Wait (board time) until the board reports hashing, then for its first telemetry sweeps:
    hashrates are measured over board time, not assumed."""
    t0 = vb.board_ms()
    while vb.board_state != "hashing":
        assert vb.board_ms() - t0 < board_s * 1000, f"not hashing after {board_s} board s: {vb.board_state}"
        vb.wait_board(0.2)
    vb.wait_board(2.5)
