import sys, json; sys.path.insert(0,"."); sys.path.insert(0,"firmware")
from hostlib.sim.fastlane import FastBoard
from tools.diag_campaign import run_diag
for seed, slot, chip in ((53014, 2, 9), (51026, 2, 19)):
    fb = FastBoard("modular-4x", seed=seed)
    fb.run_for(3000)
    m = fb.sim.modules[slot].model
    c = m.chips[chip]
    print(seed, "F", round(c.F,1), "z", round((c.F/660-1)/0.06,2), "Vd", [round(v,3) for v in m.domain_v], "tj", round(c.t_j,1), "fmax", round(m.fmax(c, c.v, c.t_j),1))
