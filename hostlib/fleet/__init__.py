"""Farm-level control for a gateway in front of many boards: pure policy (no I/O, no clock),
so that it runs on the gateway and hypothesis drives it with made-up farms."""
