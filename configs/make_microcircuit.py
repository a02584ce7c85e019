#!/usr/bin/python3
"""Write the Potjans & Diesmann (2014) cortical microcircuit as an ntwin config.

Parameters as in NEST's pynest/examples/Potjans_2014 (network_params.py,
sim_params.py, helpers.py), re-derived here with the standard library only:

- 8 populations L23E, L23I, L4E, L4I, L5E, L5I, L6E, L6I of iaf_psc_exp
  (C_m 250 pF, tau_m 10 ms, tau_syn 0.5 ms both ports, t_ref 2 ms,
  E_L = V_reset = -65 mV, V_th = -50 mV); 77,169 neurons at scale 1.
- Recurrent projections with rule fixed_total_number (autapses and multapses
  allowed, NEST's defaults), N = K scaled, with the synapse count of
  Potjans & Diesmann eq. (1): K = log(1 - p) / log(1 - 1/(N_pre N_post)).
- Weights: PSP 0.15 mV turned into a PSC amplitude for iaf_psc_exp
  (87.8 pA), inhibitory g = -4, the L4E -> L23E weight doubled; normal with
  10 % relative std, clipped at 0 on the side of the wrong sign ("min": 0 for
  excitatory, "max": 0 for inhibitory; at 10 sigma no draw reaches it).
- Delays: normal, mean 1.5 ms (excitatory sources) / 0.75 ms (inhibitory),
  50 % relative std, "min": dt = 0.1 ms. NEST redraws draws below dt
  (nest.math.redraw); ntwin's "min" clips them to dt instead, so ~3 % (E) and
  ~4 % (I) of the delays sit at exactly 0.1 ms rather than being spread over
  the truncated normal. "max" is mean + 10 std (never reached in practice),
  only to keep the delay ring small.
- Background: one Poisson stimulus per population, rate 8 Hz x K_ext
  (the original Poisson drive, not the DC variant), weight = the E PSC.
- V_m(0): NEST's "optimized" per-population normal distributions (bounded
  at +-10 std only because the model asks for finite bounds).
- dt 0.1 ms, t_stop 1500 ms (500 ms warm-up + 1 s), spikes of all recorded.

--scale S scales neuron numbers (N_scaling) and synapse totals and external
in-degrees (K_scaling) both by S, and compensates as NEST's example does
(helpers.adjust_weights_and_input_to_synapse_scaling): weights / sqrt(S) and a
DC current I_e = tau_syn (1 - sqrt(S)) (recurrent + external mean input of
the full network, from the full-scale reference rates) per population.

Usage: make_microcircuit.py [--scale S] [--t-stop MS] [--seed N] OUT.json
"""
import argparse
import json
import math

POPS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
N_FULL = [20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948]
# Full-scale rates (Hz), used only for the DC compensation when scaled.
FULL_RATES = [0.971, 2.868, 4.746, 5.396, 8.142, 9.078, 0.991, 7.523]
# Connection probabilities, [target][source].
CONN_PROBS = [
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
]
K_EXT = [1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100]
V0_MEAN = [-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43]
V0_STD = [5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48]

C_M, TAU_M, TAU_SYN, T_REF = 250.0, 10.0, 0.5, 2.0
E_L, V_TH, V_RESET = -65.0, -50.0, -65.0
PSP_E, G, W_REL_STD = 0.15, -4.0, 0.1
D_EXC, D_INH, D_REL_STD = 1.5, 0.75, 0.5
BG_RATE, DT = 8.0, 0.1


def psc_over_psp(c_m, tau_m, tau_syn):
    """PSC amplitude (pA) giving a 1 mV peak PSP (Hanuschkin et al. 2010)."""
    sub = 1.0 / (tau_syn - tau_m)
    pre = tau_m * tau_syn / c_m * sub
    frac = (tau_m / tau_syn) ** sub
    return 1.0 / (pre * (frac ** tau_m - frac ** tau_syn))


def full_num_synapses(i, j):
    """Potjans & Diesmann eq. (1): synapses from j onto i at full scale."""
    p = CONN_PROBS[i][j]
    if p == 0.0:
        return 0.0
    prod = N_FULL[i] * N_FULL[j]
    return math.log(1.0 - p) / math.log((prod - 1.0) / prod)


def build(scale, t_stop, seed):
    n = len(POPS)
    psc = psc_over_psp(C_M, TAU_M, TAU_SYN)
    w = [[PSP_E * psc * (1.0 if j % 2 == 0 else G) for j in range(n)]
         for i in range(n)]
    w[0][2] *= 2.0  # L4E -> L23E doubled
    w_ext = PSP_E * psc
    k_full = [[full_num_synapses(i, j) for j in range(n)] for i in range(n)]
    dc = [0.0] * n
    if scale != 1.0:
        s = math.sqrt(scale)
        for i in range(n):
            rec = sum(w[i][j] * k_full[i][j] / N_FULL[i] * FULL_RATES[j]
                      for j in range(n))
            ext = w_ext * K_EXT[i] * BG_RATE
            dc[i] = 0.001 * TAU_SYN * (1.0 - s) * (rec + ext)
        w = [[x / s for x in row] for row in w]
        w_ext /= s
    sizes = [int(round(x * scale)) for x in N_FULL]
    pops = []
    for i, name in enumerate(POPS):
        params = {"C_m": C_M, "tau_m": TAU_M, "tau_syn_ex": TAU_SYN,
                  "tau_syn_in": TAU_SYN, "t_ref": T_REF, "E_L": E_L,
                  "V_th": V_TH, "V_reset": V_RESET,
                  "V_m": {"distribution": "normal", "mean": V0_MEAN[i],
                          "std": V0_STD[i],
                          # the model wants finite bounds; 10 sigma: never hit
                          "min": round(V0_MEAN[i] - 10 * V0_STD[i], 6),
                          "max": round(V0_MEAN[i] + 10 * V0_STD[i], 6)}}
        if dc[i] != 0.0:
            params["I_e"] = round(dc[i], 6)
        pops.append({"name": name, "model": "iaf_psc_exp", "size": sizes[i],
                     "params": params})
    projs = []
    for i in range(n):          # target
        for j in range(n):      # source
            N = int(round(k_full[i][j] * scale * scale))
            if N == 0:
                continue
            mean = w[i][j]
            wd = {"distribution": "normal", "mean": round(mean, 9),
                  "std": round(abs(mean) * W_REL_STD, 9)}
            wd["min" if mean > 0 else "max"] = 0.0
            dm = D_EXC if j % 2 == 0 else D_INH
            dd = {"distribution": "normal", "mean": dm, "std": dm * D_REL_STD,
                  "min": DT, "max": dm * (1.0 + 10.0 * D_REL_STD)}
            projs.append({"source": POPS[j], "target": POPS[i],
                          "rule": "fixed_total_number", "N": N,
                          "weight": wd, "delay": dd})
    stims = []
    for i, name in enumerate(POPS):
        k_ext = int(round(K_EXT[i] * scale))
        stims.append({"type": "poisson", "target": name,
                      "rate": BG_RATE * k_ext, "weight": round(w_ext, 9)})
    return {
        "_comment": "Potjans & Diesmann (2014) microcircuit, scale %g, "
                    "generated by configs/make_microcircuit.py" % scale,
        "simulation": {"dt": DT, "t_stop": t_stop, "seed": seed},
        "populations": pops,
        "projections": projs,
        "stimuli": stims,
        "record": {"spikes": POPS},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--t-stop", type=float, default=1500.0)
    ap.add_argument("--seed", type=int, default=55)
    ap.add_argument("out")
    a = ap.parse_args()
    if not 0.0 < a.scale <= 1.0:
        ap.error("--scale must be in (0, 1]")
    cfg = build(a.scale, a.t_stop, a.seed)
    with open(a.out, "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")
    nsyn = sum(p["N"] for p in cfg["projections"])
    nneu = sum(p["size"] for p in cfg["populations"])
    print("%s: %d neurons, %d synapses, %d projections"
          % (a.out, nneu, nsyn, len(cfg["projections"])))


if __name__ == "__main__":
    main()
