# The tuning goals' names and ids (docs/tuning.md), apart from the search that pursues them
# (vsearch): the protocol and the settings need these at boot, the search only once a goal is set.
from .compat import const

POWER = const(1)
HASHRATE = const(2)
EFFICIENCY = const(3)
OFF = const(0)  # no goal (MODES[0])
MODES = ("off", "power", "hashrate", "efficiency")
MODE_IDS = {"power": POWER, "hashrate": HASHRATE, "efficiency": EFFICIENCY}
TOL = 0.02  # power goal band: within 2 % counts as at the goal
