# The diagnostics catalogue (docs/diagnostics.md): every finding's numeric code, severity and
# the action a technician takes, by cause. Ranges as Proto Fleet groups them: 1xxx chain,
# 2xxx chip, 3xxx power, 4xxx thermal, 5xxx sensor, 6xxx storage. One table, shared by the
# firmware (which reports findings) and the host (docs, report, tests).
CRITICAL = "critical"  # the module cannot run, or must not
MAJOR = "major"  # it runs degraded: repair it
MINOR = "minor"  # worth a look at the next repair
INFO = "info"
SEVERITIES = (CRITICAL, MAJOR, MINOR, INFO)

# cause: (code, severity, action); {ref} is the part's reference designator, {prev} the one
# before it on the chain, {name} a sensor's name
CATALOGUE = {
    "chain_break": (1001, CRITICAL, "reflow the {prev}-{ref} link (chips from {ref} on do not answer)"),
    "no_response": (1002, CRITICAL, "reflow the {prev}-{ref} link, then replace {ref} if it still does not answer: the chain stops there"),
    "crc_errors": (1003, MAJOR, "reflow {ref}'s UART pins; replace {ref} if errors persist"),
    "uart_noise": (1004, MAJOR, "re-seat the module; check connector {ref} and the UART wiring: errors on every chip"),
    "chip_count": (1005, CRITICAL, "the chain has fewer chips than the module's identity: find the first missing one"),
    "bad_id": (2001, CRITICAL, "replace {ref}: it answers as another chip type"),
    "unstable": (2002, MAJOR, "replace {ref}: it returns wrong nonces even well below the stock frequency"),
    "weak": (2003, MAJOR, "replace {ref}: it cannot hold the stock frequency its neighbours hold (the tuner parks it)"),
    "domain_leak": (2004, MAJOR, "one chip of {ref} leaks or is partly shorted: find it (the hottest at idle under a thermal camera, or the lowest core-rail resistance) and replace it"),
    "domain_open": (2005, MAJOR, "a chip of {ref} draws no current while the chain answers: check its power pins and reflow it"),
    "slow_bin": (2006, INFO, "no repair: {ref} sits at the edge of the stock frequency (the silicon's tail); the tuner runs it a step or two lower"),
    "vrm_ot": (3001, CRITICAL, "replace regulator {ref} or its heat sink contact: over-temperature trip"),
    "vrm_oc": (3002, CRITICAL, "look for a short on the module; replace regulator {ref} if none: over-current trip"),
    "vrm_uv": (3003, CRITICAL, "replace regulator {ref}: its output is below its setting"),
    "vrm_nack": (3004, CRITICAL, "replace regulator {ref} (it does not answer on PMBus), or re-seat the module"),
    "vrm_regulation": (3005, MAJOR, "replace regulator {ref}: measured output differs from its setting"),
    "cooling": (4001, MAJOR, "re-seat the heat sink / replace the thermal pad; check the fan: too hot for its power"),
    "sensor_open": (5001, MAJOR, "replace temperature sensor {ref} ({name}): it does not answer"),
    "sensor_short": (5002, MAJOR, "replace temperature sensor {ref} ({name}): it reads a short"),
    "sensor_stuck": (5003, MAJOR, "replace temperature sensor {ref} ({name}): its reading is frozen"),
    "sensor_implausible": (5004, MINOR, "check temperature sensor {ref} ({name}): it disagrees with the others"),
    "eeprom_blank": (6001, CRITICAL, "provision the module (hbctl provision module): its identity EEPROM {ref} is blank"),
    "eeprom_corrupt": (6002, CRITICAL, "re-provision the module (hbctl provision module --force); replace {ref} if it fails again"),
    "eeprom_copy": (6003, MINOR, "one copy of the identity in {ref} is damaged; the next provisioning rewrites it"),
    "eeprom_nack": (6004, CRITICAL, "replace identity EEPROM {ref} or re-seat the module: it does not answer"),
}
# a cause's action once more is known: a cut chain whose domains show the chip draws nothing
ACTIONS = {"no_response_dead": "replace {ref}: it draws no current (its domain is short of one chip's load) and the chain stops there"}
FAILING = (CRITICAL, MAJOR)  # a finding of these makes the verdict fail


def finding(cause, module, evidence, chip=None, domain=None, ref=None, prev=None, name=None, action=None):
    code, severity, text = CATALOGUE[cause]
    if action is not None:
        text = ACTIONS[action]
    return {"code": code, "severity": severity, "cause": cause, "module": module, "domain": domain,
            "chip": chip, "ref": ref, "evidence": evidence,
            "action": text.replace("{ref}", ref or "?").replace("{prev}", prev or "?").replace("{name}", name or "?")}
