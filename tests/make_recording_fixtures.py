#!/usr/bin/python3
"""Fixtures for tests/test_recording.c, written with h5py (independently of
the C readers): the SAME known spike train as sjemea, NWB units, MCS time
stamps and CSV files, a burst train with known bursts, and bad inputs.

usage: make_recording_fixtures.py OUTDIR STAMP
"""
import os
import sys

import h5py
import numpy as np

out, stamp = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
P = lambda name: os.path.join(out, name)

# The shared train, in integer µs. Channel ids 3 and 7 (in that order).
# Ties across channels (250, 1000) test the (time, channel) order; 0 and a
# time beyond 2^32 µs test the ends of the range.
rng = np.random.RandomState(20240611)
A = sorted(set([0, 250, 1000, 20000, 20001, 3_600_000_001] +
               list(rng.randint(1, 3_600_000_000, 300))))
B = sorted(set([250, 999, 1000, 15000, 2_500_000_000] +
               list(rng.randint(1, 3_600_000_000, 200))))
IDS = [3, 7]
TRAINS = [np.array(A, dtype=np.int64), np.array(B, dtype=np.int64)]
with open(P("train_expected.txt"), "w") as f:
    ev = sorted([(t, c) for c, tr in enumerate(TRAINS) for t in tr])
    f.write("%d\n" % len(ev))
    for t, c in ev:
        f.write("%d %d\n" % (t, c))


def sec(tr):
    return tr.astype(np.float64) * 1e-6


def sjemea(path, spikes=None, scount=None, names=None, epos=None, rt=(0.0, 3601.0),
           drop=()):
    with h5py.File(path, "w") as h:
        sp = np.concatenate([sec(t) for t in TRAINS]) if spikes is None else spikes
        sc = np.array([len(t) for t in TRAINS], np.int32) if scount is None else scount
        nm = [b"ch_12A_unit_0", b"ch_21B_unit_1"] if names is None else names
        ep = np.array([[200.0, 400.0], [1400.0, 1200.0]]) if epos is None else epos
        items = {"spikes": sp, "sCount": sc, "names": np.array(nm, dtype="S14"), "epos": ep}
        if rt is not None:
            items["recordingtime"] = np.array(rt)
        for k, v in items.items():
            if k not in drop:
                h[k] = v


def nwb(path, times=None, index=None, ids=None, electrodes=None, elec_table=True,
        drop=()):
    with h5py.File(path, "w") as h:
        h.attrs["neurodata_type"] = "NWBFile"
        u = h.create_group("units")
        st = np.concatenate([sec(t) for t in TRAINS]) if times is None else times
        ix = np.cumsum([len(t) for t in TRAINS]) if index is None else index
        items = {"spike_times": st, "spike_times_index": np.asarray(ix, np.uint64)
                 if index is None else index, "id": np.array(IDS if ids is None else ids)}
        if electrodes is not None:
            items["electrodes"] = np.array(electrodes, np.int64)
        for k, v in items.items():
            if k not in drop:
                u[k] = v
        if electrodes is not None and elec_table:
            e = h.create_group("general/extracellular_ephys/electrodes")
            e["id"] = np.array([12, 21, 34])
            e["rel_x"] = np.array([200.0, 400.0, 600.0])
            e["rel_y"] = np.array([1400.0, 1200.0, 1000.0])


MCS_S = "Data/Recording_0/TimeStampStream/Stream_0"


def mcs(path, exponent=-6, fields=None, ticks=None, skip_entity=None, exp_float=False,
        scale=1):
    with h5py.File(path, "w") as h:
        g = h.create_group(MCS_S)
        h["Data/Recording_0"].attrs["Duration"] = np.int64(3_601_000_000)
        fields = fields or ["TimeStampEntityID", "GroupID", "Label", "Unit", "Exponent",
                            "SourceChannelIDs"]
        types = {"TimeStampEntityID": np.int32, "GroupID": np.int32, "Label": "S32",
                 "Unit": "S8", "Exponent": np.float64 if exp_float else np.int32,
                 "SourceChannelIDs": "S16"}
        dt = np.dtype([(f, types[f]) for f in fields])
        rows = np.zeros(2, dt)
        for i, eid in enumerate(IDS):
            vals = {"TimeStampEntityID": eid, "GroupID": 0, "Label": b"%d" % eid,
                    "Unit": b"s", "Exponent": exponent, "SourceChannelIDs": b"%d" % eid}
            for f in fields:
                rows[i][f] = vals[f]
        g["InfoTimeStamp"] = rows
        for i, eid in enumerate(IDS):
            if eid == skip_entity:
                continue
            tk = TRAINS[i] * scale if ticks is None else ticks[i]
            # MCS stores entities as [1, n]; the reader takes 1-D too.
            g["TimeStampEntity_%d" % eid] = np.asarray(tk, np.int64).reshape(1, -1)


def csv(path, rows, header="channel,time_s"):
    with open(path, "w") as f:
        if header is not None:
            f.write(header + "\n")
        for r in rows:
            f.write(r + "\n")


def csv_rows(labels=("3", "7")):
    # channel 7's rows first: first appearance != numeric order
    rows = ["# shared train, channel 7 first", ""]
    for c in (1, 0):
        rows += ["%s,%.6f" % (labels[c], t * 1e-6) for t in TRAINS[c]]
        rows.append("")
    return rows


# --- the same train in every format
sjemea(P("train_sjemea.h5"))
nwb(P("train_nwb.h5"))
nwb(P("train_nwb_elec.h5"), electrodes=[0, 2])
mcs(P("train_mcs.h5"))
mcs(P("train_mcs_ns.h5"), exponent=-9, scale=1000)  # ns ticks, exact
csv(P("train.csv"), csv_rows())
csv(P("train_strlabels.csv"), csv_rows(('"ch_12A_unit_0"', "ch_21B_unit_1")))

# --- known network bursts on a Poisson background (60 channels, 100 s)
brng = np.random.RandomState(7)
ev = []
for c in range(60):  # 3 Hz Poisson background per channel
    n = brng.poisson(3 * 100)
    ev += [(int(t), c) for t in brng.uniform(0, 100e6, n)]
starts = [5_000_000 + 10_000_000 * k for k in range(10)]
for s in starts:  # 100 ms bursts: 20 channels x 15 spikes
    for c in range(20):
        ev += [(s + int(t), c) for t in np.linspace(0, 100_000, 15)]
ev.sort()
csv(P("bursts.csv"), ["%d,%.6f" % (c, t * 1e-6) for t, c in ev])
with open(P("bursts_expected.txt"), "w") as f:
    f.write(" ".join(str(s) for s in starts) + "\n")
ev = []
for c in range(60):  # Poisson only, 5 Hz per channel: no network burst
    n = brng.poisson(5 * 100)
    ev += [(int(t), c) for t in brng.uniform(0, 100e6, n)]
ev.sort()
csv(P("poisson.csv"), ["%d,%.6f" % (c, t * 1e-6) for t, c in ev])

# --- bad inputs (the test knows the expected field for each)
sp = np.concatenate([sec(t) for t in TRAINS])
sjemea(P("bad_sj_nonames.h5"), drop=("names",))
sjemea(P("bad_sj_noepos.h5"), drop=("epos",))
sjemea(P("bad_sj_noscount.h5"), drop=("sCount",))
sjemea(P("bad_sj_inttimes.h5"), spikes=np.arange(len(sp), dtype=np.int32))
sjemea(P("bad_sj_2dspikes.h5"), spikes=sp.reshape(-1, 1) * np.ones((1, 2)))
sjemea(P("bad_sj_eposshape.h5"), epos=np.zeros((3, 2)))
sjemea(P("bad_sj_eposcount.h5"), epos=np.zeros((2, 5)))
sjemea(P("bad_sj_scountsum.h5"), scount=np.array([len(A), len(B) - 1], np.int32))
sjemea(P("bad_sj_scountneg.h5"), scount=np.array([-1, len(A) + len(B) + 1], np.int32))
sjemea(P("bad_sj_namescount.h5"), names=[b"a", b"b", b"c"])
x = sp.copy(); x[5] = -0.25
sjemea(P("bad_sj_negative.h5"), spikes=x)
x = sp.copy(); x[len(A) + 3] = np.nan
sjemea(P("bad_sj_nan.h5"), spikes=x)
x = sp.copy(); x[7], x[8] = x[8], x[7]
sjemea(P("bad_sj_unsorted.h5"), spikes=x)
sjemea(P("bad_sj_rt.h5"), rt=(10.0, 5.0))
nwb(P("bad_nwb_noid.h5"), drop=("id",))
nwb(P("bad_nwb_noindex.h5"), drop=("spike_times_index",))
nwb(P("bad_nwb_indexend.h5"), index=np.array([len(A), len(A) + len(B) + 4], np.int64))
nwb(P("bad_nwb_indexdec.h5"), index=np.array([len(A), len(A) - 1], np.int64))
nwb(P("bad_nwb_idcount.h5"), ids=[3, 7, 9])
nwb(P("bad_nwb_strtimes.h5"), times=np.array([b"x"] * (len(A) + len(B))))
x = sp.copy(); x[len(A) + 2] = -1.0
nwb(P("bad_nwb_negative.h5"), times=x)
x = sp.copy(); x[len(A) + 1], x[len(A) + 2] = x[len(A) + 2], x[len(A) + 1]
nwb(P("bad_nwb_unsorted.h5"), times=x)
nwb(P("bad_nwb_elecrow.h5"), electrodes=[0, 5])
nwb(P("bad_nwb_eleccount.h5"), electrodes=[0])
mcs(P("bad_mcs_noexp.h5"), fields=["TimeStampEntityID", "Label"])
mcs(P("bad_mcs_nolabel.h5"), fields=["TimeStampEntityID", "Exponent"])
mcs(P("bad_mcs_noid.h5"), fields=["Label", "Exponent"])
mcs(P("bad_mcs_expfloat.h5"), exp_float=True)
mcs(P("bad_mcs_noentity.h5"), skip_entity=7)
mcs(P("bad_mcs_negative.h5"), ticks=[TRAINS[0], np.concatenate([[-5], TRAINS[1]])])
mcs(P("bad_mcs_unsorted.h5"), ticks=[TRAINS[0][::-1], TRAINS[1]])
with h5py.File(P("bad_mcs_ticksfloat.h5"), "w") as h:
    g = h.create_group(MCS_S)
    g["InfoTimeStamp"] = np.array([(3, b"3", -6)], np.dtype(
        [("TimeStampEntityID", np.int32), ("Label", "S8"), ("Exponent", np.int32)]))
    g["TimeStampEntity_3"] = np.array([0.5, 1.5])
with h5py.File(P("bad_unknown.h5"), "w") as h:
    h["foo/bar"] = np.arange(3)
with open(P("train_sjemea.h5"), "rb") as f:
    head = f.read(600)
with open(P("bad_truncated.h5"), "wb") as f:
    f.write(head)
with open(P("bad_garbage.bin"), "wb") as f:
    f.write(bytes(range(256)) * 4)
open(P("bad_empty.csv"), "w").close()
csv(P("bad_csv_noheader.csv"), ["3,0.5", "7,0.6"], header=None)
csv(P("bad_csv_header.csv"), ["3,0.5"], header="chan,t")
csv(P("bad_csv_number.csv"), ["# c", "3,0.5", "", "7,abc"])           # line 5
csv(P("bad_csv_fields.csv"), ["3,0.5", "3,0.6,9"])                    # line 3
csv(P("bad_csv_onefield.csv"), ["3,0.5", "", "0.7"])                  # line 4
csv(P("bad_csv_negative.csv"), ["3,0.5", "7,-0.1"])                   # line 3
csv(P("bad_csv_nan.csv"), ["3,0.5", "7,nan"])                         # line 3
csv(P("bad_csv_inf.csv"), ["3,inf"])                                  # line 2
csv(P("bad_csv_unsorted.csv"), ["3,0.5", "7,0.1", "3,0.4"])           # line 4
csv(P("bad_csv_emptylabel.csv"), ["3,0.5", ",0.6"])                   # line 3
csv(P("bad_csv_sameint.csv"), ["3,0.5", "03,0.6"])

open(stamp, "w").write("ok\n")
