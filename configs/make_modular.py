#!/usr/bin/python3
"""Writes configs/modular.json: a modular network like a patterned culture.

Four modules of 2,000 LIF neurons (1,600 E, 400 I; Brunel-style delta
synapses, each module a balanced network driven by Poisson input), dense
inside a module (10 % connection probability, as fixed in-degrees) and
joined by a few long-range excitatory links: module a's E neurons make 800
synapses onto module b's E and 200 onto its I (fixed_total_number), i.e.
about half a synapse per source neuron per other module, as in cultures of
clusters joined by thin axon bundles. The populations are listed E of every
module first, then I (E0 E1 E2 E3 I0 I1 I2 I3), so neither round_robin (every
module on every rank) nor block (rank 0 holds E0 and part of E1, the last
rank the I populations) follows the modules.

Usage: /usr/bin/python3 configs/make_modular.py [OUT.json]
"""
import json
import sys

M, NE, NI = 4, 1600, 400
J, G = 0.2, 6.0              # mV; inhibitory weight = -G J
K_E, K_I = NE // 10, NI // 10  # in-degrees inside a module (p = 0.1)
N_EE, N_EI = 800, 200        # synapses from one module's E to another's E / I
ETA = 1.2                    # Poisson drive in units of the threshold rate


def neuron(size):
    return {"model": "iaf_psc_delta", "size": size,
            "params": {"tau_m": 20.0, "C_m": 250.0, "t_ref": 2.0, "E_L": 0.0,
                       "V_th": 20.0, "V_reset": 10.0, "I_e": 0.0,
                       "V_m": {"distribution": "uniform", "low": 0.0, "high": 20.0}}}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "configs/modular.json"
    pops = [dict(name=f"E{a}", **neuron(NE)) for a in range(M)] + \
           [dict(name=f"I{a}", **neuron(NI)) for a in range(M)]
    projs = []
    for a in range(M):
        for src, k, w in ((f"E{a}", K_E, J), (f"I{a}", K_I, -G * J)):
            for tgt in (f"E{a}", f"I{a}"):
                projs.append({"source": src, "target": tgt, "rule": "fixed_indegree",
                              "indegree": k, "weight": w, "delay": 1.5,
                              "allow_autapses": False, "allow_multapses": False})
        for b in range(M):
            if b == a:
                continue
            for tgt, n in ((f"E{b}", N_EE), (f"I{b}", N_EI)):
                projs.append({"source": f"E{a}", "target": tgt,
                              "rule": "fixed_total_number", "N": n, "weight": J,
                              "delay": 3.0, "allow_autapses": False,
                              "allow_multapses": False})
    # threshold rate: the external rate that alone holds V at threshold
    nu_thr = 20.0 / (J * K_E * 20e-3)  # Hz per input
    rate = ETA * K_E * nu_thr
    cfg = {
        "_comment": "Made by configs/make_modular.py (see there): 4 modules x 2,000 LIF "
                    "neurons, dense inside, sparse between; E populations first, then I.",
        "simulation": {"dt": 0.1, "t_stop": 1000.0, "seed": 12345,
                       "partition": "round_robin", "bind": "core", "comm": "mpi"},
        "populations": pops,
        "projections": projs,
        "stimuli": [{"type": "poisson", "target": p["name"], "rate": rate, "weight": J}
                    for p in pops],
        "record": {"spikes": [p["name"] for p in pops]},
    }
    with open(out, "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
