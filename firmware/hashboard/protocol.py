# Host protocol v1 (docs/protocol.md): one JSON request per line after "@hb ", one reply line.
# Every failure becomes a structured error reply; nothing a host sends can raise out of here.
import json
import sys

from . import PROTOCOL_VERSION, VERSION, argcheck, identity, jobs, status
from .auth import needs_auth

PREFIX = "@hb "


class ProtocolError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Protocol:
    version = PROTOCOL_VERSION

    def __init__(self, app):
        self.app = app
        self.last_seen_ms = None
        self.ops = {
            "ping": self.op_ping,
            "hello": self.op_info,
            "info": self.op_info,
            "status": self.op_status,
            "events": self.op_events,
            "set_freq": self.op_set_freq,
            "set_vout": self.op_set_vout,
            "power": self.op_power,
            "curtail": self.op_curtail,
            "resume": self.op_resume,
            "heartbeat": self.op_heartbeat,
            "clear": self.op_clear,
        }
        self.lazy = {}  # op -> module holding it, loaded at first use (_load)

    def _load(self, where):
        """Ops whose module is imported at their first use (op -> module in self.lazy): its
        install() registers them all; a board that never needs them never holds them."""
        __import__("hashboard." + where)
        sys.modules["hashboard." + where].install(self, self.app)
        for k in [k for k, v in self.lazy.items() if v == where]:
            del self.lazy[k]

    def _reply(self, rid, data):
        self.app.out(PREFIX + json.dumps({"id": rid, "ok": True, "data": data}) + "\n")

    def _error(self, rid, code, message):
        # "\n" first: if a streamed reply broke off half-way, the error still stands on its own line
        self.app.out(
            "\n" + PREFIX + json.dumps({"id": rid, "ok": False, "error": {"code": code, "message": message}}) + "\n"
        )

    def handle(self, line):
        rid = None
        try:
            if isinstance(line, (bytes, bytearray)):
                try:
                    line = line.decode()
                except Exception:
                    raise ProtocolError("bad_request", "line is not UTF-8")
            if line == "!overflow":
                raise ProtocolError("bad_request", "line longer than 512 bytes")
            if not line.startswith(PREFIX):
                raise ProtocolError("bad_request", "line does not start with '@hb '")
            try:
                req = json.loads(line[len(PREFIX):])
            except ValueError:
                raise ProtocolError("bad_request", "request is not valid JSON")
            if not isinstance(req, dict):
                raise ProtocolError("bad_request", "request must be a JSON object")
            rid = req.get("id")
            v = req.get("v", PROTOCOL_VERSION)
            if v != PROTOCOL_VERSION:
                raise ProtocolError("bad_version", "protocol version %s not supported (board speaks %d)" % (v, PROTOCOL_VERSION))
            op = req.get("op")
            if isinstance(op, str) and op not in self.ops and op in self.lazy:
                self._load(self.lazy[op])
            if not isinstance(op, str) or op not in self.ops:
                raise ProtocolError("unknown_op", "unknown op %s" % (op,))
            self.last_seen_ms = self.app.clock.ticks_ms()
            self.app.host_seen(self.last_seen_ms)
            args = req.get("args", {})
            if not isinstance(args, dict):
                raise ProtocolError("bad_args", "args must be a JSON object")
            auth = self.app.auth
            if auth.provisioned() and needs_auth(op, args, self.app.board):
                why = auth.check(line[len(PREFIX):])
                if why is not None:
                    raise ProtocolError("unauthorized", "%s: unauthorized: %s" % (op, why))
            if op == "status":  # streamed replies
                self.op_status(args, rid)
                return
            if op == "events":
                self.op_events(args, rid)
                return
            self._reply(rid, self.ops[op](args))
        except ProtocolError as e:
            self._error(rid, e.code, e.message)
        except argcheck.OutOfRange as e:
            self._error(rid, "out_of_range", str(e))
        except argcheck.BadValue as e:
            self._error(rid, "bad_args", str(e))
        except Exception as e:  # a bug must not take the controller down
            self._error(rid, "internal", "%s: %s" % (type(e).__name__, e))

    def op_status(self, args, rid=None):
        """Streamed reply: the document is written piecewise, never held whole in RAM.
        {"chips": false}: without the per-chip rows."""
        chips = args.get("chips", True)
        if not isinstance(chips, bool):
            raise ProtocolError("bad_args", "chips must be true or false")
        status.write(self.app, self.app.out, PREFIX + '{"id": %s, "ok": true, "data": ' % json.dumps(rid), chips)
        self.app.out("}\n")

    def op_ping(self, args):
        return {"pong": True, "ms": self.app.clock.ticks_ms()}

    def op_info(self, args):
        b = self.app.board
        fw = self._firmware()  # also as "app" (interfaces.md: app.version, bundle, trial)
        return {
            "board": b["name"], "chip": b["chip"],
            "firmware": fw, "app": fw, "protocol": PROTOCOL_VERSION,
            "identity": identity.board_identity(self.app.store),
            "runtime": status.runtime(), "platform": sys.platform,
            "slots": len(b["slots"]), "chips_per_module": b["module"]["chips"],
            "limits": argcheck.info_limits(b),
            "security": self.app.auth.summary(),
        }

    def _firmware(self):
        """Which app runs: version, layout (slots | loose), slot, trial, bundle hash."""
        fw = {"version": VERSION, "layout": None, "slot": None, "trial": False, "bundle": None,
              "reverted": None, "rom": None, "nonce_hash": jobs.NONCE_HASH}
        boot = self.app.boot
        cur = boot.current if boot is not None else None
        if cur is not None:
            for k in ("layout", "slot", "trial", "bundle", "reverted", "rom"):
                fw[k] = cur.get(k)
            if cur["version"]:
                fw["version"] = cur["version"]
        return fw

    def op_set_freq(self, args):
        """{"mhz": F, "module": M (default every present one), "chip": I (default all)}: ramped."""
        f = self.app.board["limits"]["freq_mhz"]
        mhz = argcheck.number("frequency", args.get("mhz"), f["min"], f["max"], " MHz")
        mods = self._module_arg(args)
        chip = args.get("chip", -1)
        if chip != -1:
            argcheck.integer("chip", chip, 0, self.app.board["module"]["chips"] - 1)
        self._not_tuned(mods)
        for mod in mods:
            mod.set_freq(float(mhz), chip)
        return {"mhz": mhz, "module": args.get("module"), "chip": chip, "modules": [m.slot for m in mods]}

    def _module_arg(self, args, required=False, every=False):
        """The modules a request names: the one in `module` (its slot must hold one), else every
        present module (every slot with `every`). Settings of an empty slot would be lost at the
        next insertion."""
        mods = self.app.modules
        m = args.get("module")
        if m is None and every:
            return mods
        if m is None and not required:
            present = [x for x in mods if x.state != "empty"]
            if not present:
                raise ProtocolError("bad_args", "no module is present")
            return present
        argcheck.integer("module", m, 0, len(mods) - 1)
        if mods[m].state == "empty":
            raise ProtocolError("bad_args", "slot %d is empty" % m)
        return [mods[m]]

    def _not_tuned(self, mods):
        """Frequency and voltage belong to a tuning goal (tune, or a board power target) while
        one is set: a manual value would be silently undone, so it is refused, naming the goal."""
        for m in mods:
            g = self.app.tuning.owner(m.slot)
            if g is not None:
                raise ProtocolError("tuning_active", "module %d is tuned for %s: end the goal first "
                                    "(tune --off, or power --off)" % (m.slot, g))

    def op_set_vout(self, args):
        """{"volts": V, "module": M (default every present one)}: ramped in the board's step."""
        v = self.app.board["limits"]["vout"]
        volts = argcheck.number("voltage", args.get("volts"), v["min"], v["max"], " V")
        mods = self._module_arg(args)
        self._not_tuned(mods)
        for m in mods:
            m.set_vout(float(volts))
        return {"volts": volts, "modules": [m.slot for m in mods]}

    def op_power(self, args):
        """{"target_w": W or null}: hold the board at W by frequency steps (null: no target).
        A curtailment stays in force: the target applies from `resume` on."""
        self.app.set_power_target(args.get("target_w"))
        return {"target_w": self.app.power.target_w, "curtailed": self.app.power.curtailed}

    def op_curtail(self, args):
        """{"level": percent of full power, default 0 = modules off}; persists across resets.
        {"module": M}: that module alone off (a shed, whole: level 0 only)."""
        level = args.get("level", 0)
        if "module" in args:
            m = self._module_arg(args, True)[0]
            if level != 0:
                raise ProtocolError("bad_args", "a module is shed whole: level must be 0 with module")
            self.app.shed(m.slot, True)
            return {"level": 0, "module": m.slot}
        self.app.curtail(level)
        return {"level": level}

    def op_resume(self, args):
        """{}: end the board's curtailment and every shed; {"module": M}: that module's shed."""
        if "module" in args:  # also an empty slot's: a module inserted there would stay off
            m = args["module"]
            argcheck.integer("module", m, 0, len(self.app.modules) - 1)
            self.app.shed(m, False)
            return {"target_w": self.app.power.target_w, "module": m}
        self.app.resume()
        return {"target_w": self.app.power.target_w}

    def op_heartbeat(self, args):
        """{"policy": hold|curtail|off|null, "timeout_s": s}: arm (or disarm) the host contract.
        A missing value takes the board definition's (docs/protocol.md)."""
        lim = self.app.board["limits"]
        policy = args.get("policy", lim["heartbeat_policy"])
        if policy is not None and policy not in ("hold", "curtail", "off"):
            raise ProtocolError("bad_args", "policy must be hold, curtail, off or null")
        t = args.get("timeout_s", lim["heartbeat_timeout_s"])
        argcheck.number("heartbeat timeout", t, argcheck.HEARTBEAT_S[0], argcheck.HEARTBEAT_S[1], " s")
        self.app.arm_heartbeat(policy, t)
        return {"policy": policy, "timeout_s": t}

    def op_clear(self, args):
        """Acknowledge latched faults (thermal lockout, regulator faults) on one module or every
        slot; never powers anything. Says, per module, what it was and what it is now."""
        now = self.app.clock.ticks_ms()
        done = []
        for m in self._module_arg(args, every=True):
            before = status.brief(m)
            m.clear_fault(now)
            done.append({"module": m.slot, "before": before, "after": status.brief(m)})
        return {"cleared": True, "modules": done}

    def op_events(self, args, rid=None):
        """Streamed reply, one event at a time (the ring can be larger than a free heap block)."""
        since = args.get("since", 0)
        if isinstance(since, bool) or not isinstance(since, int):
            raise ProtocolError("bad_args", "since must be an integer")
        out = self.app.out
        out(PREFIX + '{"id": %s, "ok": true, "data": [' % json.dumps(rid))
        first = True
        for e in self.app.events.items:
            if e[0] <= since:
                continue
            out(('' if first else ', ') + json.dumps(
                {"seq": e[0], "ms": e[1], "kind": e[2], "module": e[3], "detail": e[4]}))
            first = False
        out("]}\n")
