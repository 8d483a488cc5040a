"""The fleet gateway (issue 16) against real engines: a real Mosquitto broker and a real
Prometheus server (hil_tests/engines.py), the real `hbctl gateway` process, and paced fast-lane
boards on ptys speaking the real protocol (hostlib/sim/farm.py, docs/fleet.md "Scale lane")."""

from __future__ import annotations

import uuid
from pathlib import Path

from hashboard.compat import ticks_diff
from hil_tests.engines import promtool_check_rules, value
from hil_tests.fleet_harness import GatewayProcess, Listener, wait_until
from hostlib.sim.farm import Farm

ALERTS = Path(__file__).resolve().parents[1] / "hostlib" / "fleet" / "alerts.yml"
RULES = {"HashboardDown", "HashboardGatewayDown", "HashboardModuleFault", "HashboardChainFault",
         "HashboardChipFlagged", "HashboardNearHot", "HashboardHeartbeatLost", "HashboardNotAtDispatchLimit"}


def _gw_name() -> str:
    return "t" + uuid.uuid4().hex[:6]


def test_the_shipped_alert_rules_pass_promtool():
    ok, out = promtool_check_rules(ALERTS)
    assert ok, out


def test_prometheus_scrapes_every_board_and_mqtt_carries_state_and_commands(mosquitto, prometheus):
    gwn, names = _gw_name(), ["b0", "b1", "b2"]
    base = f"hashboard/{gwn}"
    with Farm(3, seed0=10) as farm:
        gw = GatewayProcess(farm.ports, "--mqtt", f"{mosquitto.host}:{mosquitto.port}", "--name", gwn, names=names)
        lis = Listener(mosquitto, f"{base}/#")
        try:
            _ = lis.wait(lambda: lis.all_hashing(base, names), 120, "every board hashing, as retained state")
            assert lis.last[f"{base}/status"] == "online"
            prom = prometheus([gw.metrics], rule_files=[ALERTS])
            power = prom.wait_for("hashboard_power_watts", lambda r: len(r) == 3 and all(value(x) > 500 for x in r))
            assert {x["metric"]["board"] for x in power} == set(names)
            for x in power:  # what Prometheus holds is what the board measures
                fb = farm.boards[names.index(x["metric"]["board"])].fb
                assert abs(value(x) - fb.app.power_w()) < 0.05 * fb.app.power_w()
            ths = prom.wait_for("hashboard_hashrate_ths", lambda r: len(r) == 3)
            assert all(80 < value(x) < 130 for x in ths)  # 4 x 24 BM1370 at stock: ~103 TH/s
            assert value(prom.wait_for("count(hashboard_module_power_watts)", lambda r: r and value(r[0]) == 12)[0]) == 12
            rules = {r["name"]: r for g in prom.rules() for r in g["rules"]}
            assert set(rules) == RULES and all(r["health"] == "ok" for r in rules.values())

            # commands, each acknowledged under its own correlation id
            def ack(rid):
                return lis.wait(lambda: next((d for t, d in reversed(lis.log) if t == f"{base}/b1/ack"
                                              and isinstance(d, dict) and d.get("id") == rid), None), 20, f"ack {rid}")

            lis.publish(f"{base}/b1/cmd", {"id": "c-1", "op": "curtail", "args": {"level": 50}})
            a = ack("c-1")
            assert a["ok"] and a["data"] == {"level": 50}
            assert farm.boards[1].fb.app.power.curtailed
            lis.publish(f"{base}/b1/cmd", {"id": "c-2", "op": "set_vout", "args": {"volts": 5.5}})
            a = ack("c-2")
            assert not a["ok"] and "op must be one of" in a["error"]
            lis.publish(f"{base}/b1/cmd", {"id": "c-3", "op": "curtail", "args": {"level": 150}})
            a = ack("c-3")
            assert not a["ok"] and "outside" in a["error"] and farm.boards[1].fb.app.power.level == 50
            lis.publish(f"{base}/b1/cmd", {"id": "c-4", "op": "resume"})
            assert ack("c-4")["ok"] and not farm.boards[1].fb.app.power.curtailed

            # a board that falls silent is reported, not forgotten
            farm.boards[2].stop()
            lis.wait(lambda: lis.last.get(f"{base}/b2/online") is False, 30, "b2 reported offline")
            # its last state stays retained, marked stale
            lis.wait(lambda: lis.last[f"{base}/b2/state"]["online"] is False, 10, "b2's state marked offline")
            prom.wait_for('hashboard_up{board="b2"}', lambda r: r and value(r[0]) == 0)
            assert value(prom.query('hashboard_up{board="b0"}')[0]) == 1
        finally:
            gw.stop()
            lis.close()


def test_sixteen_boards_meet_a_dispatch_limit_in_merit_order_and_fall_safe_when_the_gateway_dies(mosquitto):
    gwn = _gw_name()
    names = [f"r{i:02d}" for i in range(16)]
    base, topic = f"hashboard/{gwn}", f"hashboard/{gwn}-farm/dispatch"
    with Farm(16, seed0=100) as farm:
        gw = GatewayProcess(farm.ports, "--mqtt", f"{mosquitto.host}:{mosquitto.port}", "--name", gwn,
                            "--heartbeat-policy", "curtail", "--heartbeat-after", "10", names=names,
                            config={"dispatch_topic": topic})
        lis = Listener(mosquitto, f"{base}/#", f"{topic}/state")
        try:
            docs = lis.wait(lambda: lis.all_hashing(base, names), 180, "16 boards hashing")
            jth = {(n, m["slot"]): m["power_w"] / (m["ghs"] / 1000.0) for n, d in zip(names, docs) for m in d["modules"]}
            full = sum(d["power_w"] for d in docs)
            limit = 0.6 * full

            def state(rid, want):
                d = lis.last.get(f"{topic}/state")
                return d if isinstance(d, dict) and d.get("id") == rid and d["state"] in want else None

            lis.publish(topic, {"id": "d-60", "limit_w": limit, "deadline_s": 5})
            d = lis.wait(lambda: state("d-60", ("at_limit", "missed", "infeasible")), 60, "the farm at 60 %")
            assert d["state"] == "at_limit" and d["within_deadline"] and d["t_to_limit_s"] <= 5.0, d
            assert d["measured_w"] <= limit
            measured = sum(b.fb.app.power_w() for b in farm.boards)  # the boards' own telemetry
            assert measured <= limit, (measured, limit)
            shed = {(b, m) for b, m, _ in d["shed"]}
            assert shed == {(n, m.slot) for n, b in zip(names, farm.boards) for m in b.fb.app.modules if m.shed}
            assert 20 <= len(shed) <= 32  # ~40 % of 64 modules of about the same power
            worst_running = max(v for k, v in jth.items() if k not in shed)
            best_shed = min(v for k, v in jth.items() if k in shed)
            assert best_shed >= worst_running - 0.02, "a more efficient module was shed while a less efficient runs"

            lis.publish(topic, {"id": "d-80", "limit_w": 0.8 * full, "deadline_s": 5})
            d80 = lis.wait(lambda: state("d-80", ("at_limit",)), 90, "the farm at 80 %")
            still = {(b, m) for b, m, _ in d80["shed"]}
            assert still < shed and all(jth[k] >= max(jth[r] for r in shed - still) - 0.02 for k in still), \
                "restoring must bring back the most efficient shed modules first"

            # the gateway dies: every board applies its heartbeat policy by itself
            gw.kill()
            for b in farm.boards:
                app = b.fb.app
                wait_until(lambda: app.hb_lost, 40, f"{b.port}: heartbeat policy applied")
                with b.lock:
                    lost = [e for e in app.events.items if e[2] == "heartbeat" and str(e[4]).startswith("lost")][-1]
                    late = ticks_diff(lost[1], app.protocol.last_seen_ms)
                assert 10000 <= late <= 10000 + 2 * app.period, late  # within the contract, board time
                wait_until(lambda: all(m.state == "off" for m in app.modules), 20, f"{b.port}: modules off")
            lis.wait(lambda: lis.last.get(f"{base}/status") == "offline", 40, "the broker's last will for the gateway")
        finally:
            gw.stop()
            lis.close()


def test_a_killed_gateway_leaves_a_real_interpreter_board_in_its_heartbeat_policy():
    """The same end to end on the authentic lane: the unchanged firmware on MicroPython."""
    import pytest

    from hostlib.link import Link
    from hostlib.sim.virtual import VirtualBoard

    pytest.importorskip("serial")
    with VirtualBoard() as vb:
        assert vb.wait_ready(60)
        gw = GatewayProcess([vb.port], "--heartbeat-policy", "curtail", "--heartbeat-after", "3", "--no-dispatch")
        try:
            wait_until(lambda: (gw.farm()["boards"][0].get("heartbeat") or {}).get("armed"), 60, "the contract armed")
            gw.kill()
            vb.wait_board(3 + 2)  # the contract's 3 s, on the board's own clock, and a margin
            with Link(vb.port, timeout=10) as ln:  # the port is free once the gateway is gone
                # this request is a heartbeat again: the board says the host is back, and its
                # curtailment stays until someone resumes it
                evs = [e for e in ln.request("events", {"since": 0}) if e["kind"] in ("heartbeat", "curtail")]
                assert [e["detail"] for e in evs][-3:-1] == ["lost: curtail", "level 0%"], evs
                st = wait_until(lambda: (lambda s: s if all(m["state"] in ("off", "empty") for m in s["modules"])
                                         else None)(ln.request("status")), 30, "every module off")
                assert st["power"]["curtailed"] and st["heartbeat"]["applied"] == "curtail"
        finally:
            gw.stop()


def test_mqtt_commands_do_not_borrow_a_provisioned_boards_secret(mosquitto, tmp_path):
    """Anyone who can publish on the broker may curtail (open, as on the board), but not raise a
    provisioned board's power target: the gateway holds the secret for its heartbeat contract only."""
    import json
    import secrets

    gwn = _gw_name()
    base = f"hashboard/{gwn}"
    secret = secrets.token_hex(32)
    sf = tmp_path / "board.secret"
    sf.write_text(secret)
    sf.chmod(0o600)
    sf.chmod(0o600)
    with Farm(1, seed0=7) as farm:
        fb = farm.boards[0].fb
        with farm.boards[0].lock:
            fb.request("provision", target="board", serial="GW-SEC-1", secret=secret)
        assert fb.app.auth.provisioned()
        cfg = tmp_path / "gw.json"
        cfg.write_text(json.dumps({"boards": [{"port": farm.ports[0], "name": "p0", "secret_file": str(sf)}]}))
        gw = GatewayProcess([], "--mqtt", f"{mosquitto.host}:{mosquitto.port}", "--name", gwn, "--config", str(cfg),
                            names=None)
        lis = Listener(mosquitto, f"{base}/#")
        try:
            lis.wait(lambda: (lis.last.get(f"{base}/p0/state") or {}).get("heartbeat", {}).get("armed"), 60,
                     "the contract armed with the secret")

            def ack(rid):
                return lis.wait(lambda: next((d for t, d in reversed(lis.log) if t == f"{base}/p0/ack"
                                              and isinstance(d, dict) and d.get("id") == rid), None), 20, f"ack {rid}")

            lis.publish(f"{base}/p0/cmd", {"id": "p-1", "op": "power", "args": {"target_w": 1500}})
            a = ack("p-1")
            assert not a["ok"] and "owner op" in a["error"] and fb.app.power.target_w is None
            lis.publish(f"{base}/p0/cmd", {"id": "p-2", "op": "curtail", "args": {"level": 40}})
            assert ack("p-2")["ok"] and fb.app.power.level == 40
        finally:
            gw.stop()
            lis.close()
