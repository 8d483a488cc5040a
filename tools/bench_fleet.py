"""Scale of one fleet gateway (issue 16, docs/fleet.md): N paced fast-lane boards
(`hbctl sim --lane fast --boards N`, one process), one `hbctl gateway` on a real Mosquitto broker,
measured over a window of steady hashing, then a grid dispatch to 60 % of the farm's power.

    python -m tools.bench_fleet [--boards 16] [--window 30]

Prints: status refresh period per board, MQTT messages/s, gateway CPU and memory, the farm
process's CPU, and the time from the dispatch message to the farm measured at its limit."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hil_tests.engines import Mosquitto  # noqa: E402
from hil_tests.fleet_harness import GatewayProcess, Listener  # noqa: E402

HBCTL = str(Path(sys.executable).parent / "hbctl")


def _cpu_s(pid: int) -> float:
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / 100.0  # utime + stime, clock ticks of 10 ms


def _rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boards", type=int, default=16)
    ap.add_argument("--window", type=float, default=30.0)
    a = ap.parse_args(argv)
    farm = subprocess.Popen([HBCTL, "sim", "--lane", "fast", "--boards", str(a.boards), "--seed", "100"],
                            stdout=subprocess.PIPE, text=True)
    ports = json.loads(farm.stdout.readline())["ports"] if farm.stdout else []
    names = [f"b{i:02d}" for i in range(a.boards)]
    with Mosquitto() as mq:
        gw = GatewayProcess(ports, "--mqtt", f"{mq.host}:{mq.port}", "--name", "bench", names=names,
                            config={"dispatch_topic": "bench/dispatch"})
        lis = Listener(mq, "hashboard/bench/#", "bench/dispatch/state")
        try:
            def all_hashing():
                return lis.all_hashing("hashboard/bench", names)

            t0 = time.monotonic()
            lis.wait(all_hashing, 180, "every board hashing")
            up_s = time.monotonic() - t0
            n0, g0, f0, w0 = len(lis.log), _cpu_s(gw.proc.pid), _cpu_s(farm.pid), time.monotonic()
            time.sleep(a.window)
            n1, g1, f1, w1 = len(lis.log), _cpu_s(gw.proc.pid), _cpu_s(farm.pid), time.monotonic()
            with urllib.request.urlopen(f"http://{gw.metrics}/metrics", timeout=10) as r:
                text = r.read().decode()
            periods = [float(x.split()[-1]) for x in text.splitlines() if x.startswith("hashboard_status_refresh_seconds{")]
            docs = all_hashing()
            full = sum(d["power_w"] for d in docs)
            t_send = time.monotonic()
            lis.publish("bench/dispatch", {"id": "b-60", "limit_w": 0.6 * full, "deadline_s": 5})
            d = lis.wait(lambda: (lambda x: x if isinstance(x, dict) and x.get("id") == "b-60" and x["state"] in
                                  ("at_limit", "infeasible") else None)(lis.last.get("bench/dispatch/state")),
                         60, "the farm at its limit")
            seen_s = time.monotonic() - t_send
            dt = w1 - w0
            print(f"boards: {a.boards} (paced fast lane, {a.boards * 4} modules), all hashing {up_s:.1f} s after the gateway started")
            print(f"status refresh period per board: mean {sum(periods) / len(periods):.3f} s, "
                  f"max {max(periods):.3f} s (gateway --refresh 1)")
            print(f"MQTT messages received from the gateway: {(n1 - n0) / dt:.1f} /s")
            print(f"gateway CPU: {100 * (g1 - g0) / dt:.1f} % of one core; memory (RSS) {_rss_mb(gw.proc.pid):.0f} MB")
            print(f"farm process CPU ({a.boards} boards' firmware and emulators): {100 * (f1 - f0) / dt:.1f} % of one core")
            print(f"dispatch to 60 % ({0.6 * full / 1000:.2f} of {full / 1000:.2f} kW): {d['state']} after "
                  f"{d['t_to_limit_s']} s (gateway), seen by a subscriber {seen_s:.2f} s after the order; "
                  f"{len(d['shed'])} modules shed; measured {d['measured_w'] / 1000:.2f} kW")
        finally:
            gw.stop()
            lis.close()
            farm.terminate()
            farm.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
