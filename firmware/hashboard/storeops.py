# The ops that write a module's or the board's stored records (docs/update.md, docs/eeprom.md):
# provision, save_profile, repair_log. Rare (factory, bench, tuner hand-off), so loaded at their
# first use (Protocol.lazy) instead of held on every board's heap from boot.
from . import argcheck, provision
from .auth import parse_secret
from .protocol import ProtocolError


def install(protocol, app):
    def op_save_profile(args):
        """{"module": M}: the module's live per-chip targets and voltage into its EEPROM."""
        m = protocol._module_arg(args, True)[0]
        try:
            p = m.save_profile()
        except ValueError as e:
            raise ProtocolError("bad_args", str(e))
        except OSError:
            raise ProtocolError("io", "module %d EEPROM write failed; its previous profile is kept" % m.slot)
        return {"module": m.slot, "seq": p["seq"], "vout_mv": p["vout_mv"], "freqs": p["freqs"]}

    def op_repair_log(args):
        """{"module": M, "add": {"days": D, "code": C, "arg": A}}: read (and append to) the log."""
        m = protocol._module_arg(args, True)[0]
        add = args.get("add")
        if add is not None:
            if not isinstance(add, dict):
                raise ProtocolError("bad_args", "add must be an object")
            for k, hi in (("days", 0xFFFF), ("code", 0xFF), ("arg", 0xFF)):
                v = add.get(k, 0)
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
                    raise ProtocolError("bad_args", "add.%s must be an integer 0..%d" % (k, hi))
            add = (add.get("days", 0), add.get("code", 0), add.get("arg", 0))
        try:
            entries = m.repair_log(add)
        except ValueError as e:
            raise ProtocolError("bad_args", str(e))
        except OSError:
            raise ProtocolError("io", "module %d EEPROM did not answer or verify" % m.slot)
        return {"module": m.slot, "entries": [{"seq": e[0], "days": e[1], "code": e[2], "arg": e[3]} for e in entries]}

    def op_provision(args):
        """{"target": "board"|"module", "serial", "model", "date": [yy,mm,dd], "module": M,
        "grade", "vout_mv", "vout_max_mv", "force"}: write an identity once, verified by read-back."""
        target = args.get("target")
        try:
            if target == "board":
                secret = args.get("secret")
                if secret is not None:
                    parse_secret(secret)  # a bad one is refused before the identity is written
                doc = provision.provision_board(app.store, app.board, args)
                if secret is not None:
                    app.auth.store_secret(secret)
                    doc = dict(doc)
                    doc["secret"] = "stored"
                if app.ctl is not None:
                    app.ctl.set_serial(doc["serial"])
                return {"board": doc}
            if target == "module":
                m = protocol._module_arg(args, True)[0]
                rec = provision.provision_module(m, app.board, args, app.clock.ticks_ms())
                return {"module": m.slot, "serial": rec["serial"], "model": rec["model"], "seq": rec["seq"],
                        "vout_mv": rec["vout_mv"], "vout_max_mv": rec["vout_max_mv"]}
        except provision.Exists as e:
            raise ProtocolError("exists", str(e))
        except (argcheck.BadValue, argcheck.OutOfRange):
            raise
        except ValueError as e:
            raise ProtocolError("bad_args", str(e))
        except OSError:
            raise ProtocolError("io", "identity write did not verify; the previous one is kept")
        raise ProtocolError("bad_args", "target must be board or module")

    protocol.ops["provision"] = op_provision
    protocol.ops["save_profile"] = op_save_profile
    protocol.ops["repair_log"] = op_repair_log
