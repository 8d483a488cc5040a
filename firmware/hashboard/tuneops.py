# Host protocol ops of the tuner (docs/protocol.md, "Tuning"), kept out of Protocol so that the
# dispatcher does not grow with every feature: Protocol.ops is extended with these at start-up.
from .protocol import ProtocolError
from .tunemodes import MODES


def install(protocol, app):
    def module_arg(args):
        m = args.get("module")
        if m is None:
            return None
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < len(app.modules):
            raise ProtocolError("bad_args", "module must be 0..%d" % (len(app.modules) - 1))
        return m

    def op_tune(args):
        """{"mode": power|hashrate|efficiency|off, "target": W | TH/s | TH/s floor, "module": M}"""
        mode = args.get("mode")
        if not isinstance(mode, str):
            raise ProtocolError("bad_args", "mode must be power, hashrate, efficiency or off")
        m = module_arg(args)
        if m is not None and mode != "off" and app.modules[m].state == "empty":
            raise ProtocolError("bad_args", "slot %d is empty" % m)  # its goal would tune nothing
        try:
            app.set_tuning(mode, args.get("target", 0.0), m)
        except ValueError as e:
            raise ProtocolError("out_of_range" if mode in ("power", "hashrate", "efficiency") else "bad_args", str(e))
        return app.tuning.doc(m)

    def op_tune_status(args):
        """{"module": M, "chips": bool}: the goal, each module's tuner, one module's chips."""
        m = module_arg(args)
        chips = args.get("chips", False) is True
        if chips and m is None:
            raise ProtocolError("bad_args", "chips needs a module")
        return app.tuning.doc(m, chips)

    def op_profiles(args):
        """{"module": M}: the tuned profile each module carries (as read at its insertion, or as
        last saved), why a stored one is not in use, and its table of one profile per goal."""
        m = module_arg(args)
        out = []
        for mod in app.modules:
            if m is not None and mod.slot != m:
                continue
            st = mod.store
            p = st.profile
            doc = None
            if p is not None:
                doc = {"vout": p["vout_mv"] / 1000.0, "seq": p["seq"], "freqs_mhz": p["freqs"]}
                if "mode" in p:  # started from the table's entry for a goal
                    doc["mode"] = MODES[p["mode"]]
                    doc["target"] = p["goal"]
            targets = []  # type: list | None
            if mod.state != "empty":
                try:
                    targets = st.targets()
                except OSError:
                    targets = None  # the part did not answer: unknown, not empty
            if targets:
                for t in targets:
                    t["mode"] = MODES[t["mode"]]
            out.append({"module": mod.slot, "state": mod.state, "serial": mod.serial, "profile": doc,
                        "note": st.note, "eeprom": st.part, "targets": targets})
        return {"modules": out}

    protocol.ops["tune"] = op_tune
    protocol.ops["tune_status"] = op_tune_status
    protocol.ops["profiles"] = op_profiles
