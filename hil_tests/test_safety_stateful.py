"""The safety invariants over the whole firmware (fast lane): random host commands, faults,
swaps (slow and within one presence sample), request floods, reboots and power cuts, with the
hardware checked every 20 board ms by an oracle that does not ask the firmware (safety_model.py).
A bounded, deterministic slice runs here (4 sequences of 25 steps); tools/safety_campaign.py
runs long random campaigns and plants old defects back."""

from hypothesis import HealthCheck, settings

from safety_model import SafetyMachine

SafetyMachine.TestCase.settings = settings(max_examples=4, stateful_step_count=25, deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow])
TestSafety = SafetyMachine.TestCase
