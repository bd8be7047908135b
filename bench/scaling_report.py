#!/usr/bin/env python3
"""Report of bench/scaling.sh: measured scaling, the communication model checked against every
measured configuration, and a projection to 8-1,024 nodes.

Usage: bench/scaling_report.py OUT [--per-worker N] [--fit FIT.json] [--algorithm ALG]
  OUT            the folder of bench/scaling.sh: per-step JSON-lines metrics of each
                 configuration (local-W.jsonl, local-oversubscribed-W.jsonl, netns-N.jsonl) and
                 the all-reduce runs (allreduce-*.json); scaling.csv, scaling.json and
                 scaling.md are written there (`dbx plot scaling.json` draws the PNGs).
  --fit          the per-algorithm collective models of bench/allreduce_fit.py (default
                 bench/results/collectives/fit.json; made from that folder's runs if absent).
  --algorithm    the dense all-reduce algorithm of the projection: auto, rd (or
                 recursive_doubling), rabenseifner, ring, or mpi (binomial: MPI_Iallreduce,
                 a binomial reduce + broadcast in Open MPI 4.1's libnbc). Default: what the
                 metrics' config record names (field "allreduce_algo"), else auto. auto is
                 what dbx runs by default: per bucket the algorithm dbx__ar_choose
                 (comm/allreduce.c) picks under dbx's default cost model (comm/comm.c, read
                 by bench/allreduce_fit.py), timed with the model of the link or fabric.
                 The validation always models what the run really ran (the config record).

Measured: sentences/s X(N) (median over steps after warm-up), weak-scaling efficiency X(N) /
(N X(1)), step, compute and gradient-synchronisation times, algbw and busbw.

Communication per step (worker/dist.c dbx__grad_sync) for N ranks: the dense gradient
all-reduce (D bytes, in buckets of options.bucket_mb, each with its own algorithm) + for the
embedding table (V rows of d floats): an all-gather of the per-rank row counts (8 bytes
each), an all-gather of the touched row ids (4 r bytes per rank, r = rows a rank touched),
then either an all-gather of the rows (4 d r bytes per rank) or, when N r (4 + 4 d) >= 4 V d,
an all-reduce of the whole table through the same engine (and the same buckets). r comes
from the step records: "sparse_rows" (the rows exchanged, all ranks together) / N where the
metrics have it, else (allreduce_bytes - D) / 4 d per worker; D and V from the config
record.

Validation: on each namespace-host configuration, the modelled synchronisation time (the
fitted models of bench/allreduce_fit.py for the algorithms that ran, with their fitted
oversubscription factor, since these ranks share this machine's cores) against the measured
one. The measured communication time of a step is the smallest all-reduce time over its
workers: the last worker to reach the synchronisation waits for nobody, so its time is the
collectives' own; the others' also hold the wait for the slowest (oversubscribed) compute,
which is what is subtracted. Configurations on one host (shared memory) are not modelled.

Projection (a model, not a measurement): N = 8..1,024 nodes, one worker each: step = compute
per worker (measured, W = 1) * imbalance (the smallest measured with more than one worker:
contention for the cores only adds to a partition's own imbalance) + the synchronisation
above, for these fabrics:
  * measured: the namespace links' alpha and beta (plain veth; and tc-shaped 1 Gbit/s);
  * "100 Gb/s fabric": alpha 5 us (the slow end of the 2-5 us of InfiniBand / RoCE MPI),
    100 Gb/s, plus the reduction's own cost, gamma 0.1 ns per reduced byte (about 10 GB/s
    of float adds on one core; on the namespace links beta already includes it);
  * "10 Gb/s Ethernet": alpha 20 us (MPI over TCP), 10 Gb/s, gamma 0.1 ns/B.
"""
import glob
import json
import math
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import allreduce_fit as F  # noqa: E402

WARMUP = 5
NODES = (8, 16, 32, 64, 128, 256, 512, 1024)
GAMMA = 0.1e-9
FABRICS = [  # name, alpha s, beta s/B, gamma s/B
    ("100 Gb/s fabric (alpha 5 us)", 5e-6, 8 / 100e9, GAMMA),
    ("10 Gb/s Ethernet (alpha 20 us)", 20e-6, 8 / 10e9, GAMMA),
]
ALGS = ("binomial", "ring", "recursive_doubling", "rabenseifner", "auto")
BUCKET = 4 << 20  # dbx's default bucket (options.bucket_mb in the config record)
CHOOSER = F.dbx_default_model()  # the model dbx__ar_choose uses by default


def load(path):
    cfg, steps = None, []
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            if o.get("type") == "step":
                steps.append(o)
            elif o.get("type") == "config":
                cfg = o
    return cfg, steps


def table_shape(cfg):
    """(dense gradient bytes, table rows V, row floats d) from the config record."""
    if not cfg:
        return None
    m = re.search(r"vocab words (\d+)", cfg.get("meta", ""))
    d = cfg.get("embed") or 0
    if not m or not d or not cfg.get("params"):
        return None
    V = int(m.group(1))
    return 4 * (cfg["params"] - V * d), V, d


def ran_algorithm(cfg):
    """The dense all-reduce algorithm a run used, as far as its config record says."""
    if cfg:
        for v in (cfg.get("allreduce_algo"), cfg.get("allreduce_algorithm"),
                  (cfg.get("options") or {}).get("allreduce")):
            v = {"rd": "recursive_doubling", "mpi": "binomial"}.get(v, v)
            if v in ALGS:
                return v
    return "auto"


def engine(alg, N, n, t, bucket=BUCKET):
    """Seconds of dbx's all-reduce of n bytes: buckets of `bucket` bytes, each with alg (auto:
    what dbx__ar_choose picks under dbx's default model), t(alg, N, bytes) the time model."""
    total, off = 0.0, 0
    while off < n:
        ln = min(bucket, n - off) if bucket else n
        a = F.dbx_choose(CHOOSER, N, ln) if alg == "auto" else alg
        total += t(a, N, ln)
        off += ln
    return total


def summarize(label, path):
    cfg, steps = load(path)
    if not steps:
        return None
    use = steps[WARMUP:] if len(steps) > WARMUP + 2 else steps
    W = len(use[0]["workers"])
    sps = [s["sents_per_s"] for s in use if s.get("sents_per_s")]
    walls = [s["samples"] / s["sents_per_s"] for s in use if s.get("sents_per_s")]
    ar_ms = [max(w["allreduce_ms"] for w in s["workers"]) for s in use]
    # the collectives' own time: the fastest worker's synchronisation (the others also wait
    # for the slowest compute), less its local work on the embedding rows
    comm_ms = [min(w["allreduce_ms"] - w.get("allreduce_local_ms", 0) for w in s["workers"])
               for s in use]
    ar_bytes = statistics.median([s["workers"][0]["allreduce_bytes"] for s in use])
    compute = [statistics.mean(w["compute_ms"] for w in s["workers"]) for s in use]
    imb = [s.get("imbalance") or 1.0 for s in use]
    ar = statistics.median(ar_ms) / 1e3
    algbw = ar_bytes / ar / 1e9 if ar > 0 else float("nan")
    busbw = algbw * 2 * (W - 1) / W if W > 1 else algbw
    wall = statistics.median(walls)
    r = {
        "config": label, "workers": W, "steps": len(use),
        "sents_per_s": statistics.median(sps),
        "step_ms": 1e3 * wall,
        "compute_ms": statistics.median(compute),
        "imbalance": statistics.median(imb),
        "allreduce_ms": 1e3 * ar,
        "comm_ms": statistics.median(comm_ms),
        "allreduce_bytes": ar_bytes,
        "algbw_GBps": algbw if W > 1 else None,
        "busbw_GBps": busbw if W > 1 else None,
        "comm_share": ar / wall if wall > 0 else None,
        "algorithm": ran_algorithm(cfg),
    }
    shape = table_shape(cfg)
    if shape and W > 1:
        D, V, d = shape
        rows = []
        for s in use:
            ws = s["workers"]
            if all("sparse_rows" in w for w in ws):  # all ranks together
                rows.append(statistics.mean(w["sparse_rows"] for w in ws) / W)
            else:
                rows.append(statistics.mean(max(0.0, w["allreduce_bytes"] - D) / (4 * d)
                                            for w in ws))
        r.update({"dense_bytes": D, "table_rows": V, "row_floats": d,
                  "bucket_bytes": int(((cfg.get("options") or {}).get("bucket_mb") or 4) * (1 << 20)),
                  "early_bytes": statistics.median(
                      statistics.mean(w.get("allreduce_early_bytes", 0) for w in s["workers"])
                      for s in use),
                  "rows_per_worker": statistics.median(rows)})
    return r


def sync_time(N, D, V, d, rows, ar, ag, wire=1.0):
    """Modelled seconds of one step's synchronisation; ar(bytes), ag(bytes per rank) the
    collective models; wire: bytes on the wire per float byte of the all-reduces (0.5 with
    --grad-wire bf16, which the all-gathers of sparse rows do not use). Returns (seconds,
    path)."""
    t = ar(D * wire) + ag(8) + ag(4 * rows)
    if N * rows * (4 + 4 * d) < 4.0 * V * d:  # worker/dist.c's choice, in float bytes
        return t + ag(4 * d * rows), "sparse rows"
    return t + ar(4.0 * V * d * wire), "whole table"


def fit_model(fit, cores=None):
    """(ar(alg, N, n), ag(N, n)) from the fitted parameters (cores: with oversubscription)."""
    def ar(alg, N, n):
        f = fit["ar"][alg]
        return F.predict(alg, N, n, f["alpha_s"], f["beta_s_per_byte"],
                         f.get("contention_k", 0) if cores else 0, cores)

    def ag(N, n):
        f = fit["ag"]
        return F.predict("allgather", N, n, f["alpha_s"], f["beta_s_per_byte"],
                         f.get("contention_k", 0) if cores else 0, cores)
    return ar, ag


def fabric_model(alpha, beta, gamma):
    def red(alg, N, n):  # reduced bytes per rank on the critical path
        L = math.ceil(math.log2(N))
        p = 1 << int(math.floor(math.log2(N)))
        e = 0 if p == N else 1
        return {"ring": (N - 1) / N * n, "recursive_doubling": (math.log2(p) + e) * n,
                "rabenseifner": ((p - 1) / p + e) * n, "binomial": L * n}[alg]

    def one(alg, N, n):
        return F.predict(alg, N, n, alpha, beta) + gamma * red(alg, N, n)

    def ar(alg, N, n):
        return engine(alg, N, n, one)

    def ag(N, n):
        return F.predict("allgather", N, n, alpha, beta)
    return ar, ag


def pick_fits(fits, link):
    """{"ar": {alg: fit}, "ag": fit} for one link: dbx's own algorithms first, then libnbc
    (the same MPI_Iallreduce as dbx's mpi), then Open MPI's tuned ones; auto is made per bucket
    from the three dbx chooses among."""
    out = {"ar": {}, "ag": None}
    for alg in ALGS[:-1]:
        for impl in ("dbx", "libnbc", "tuned"):
            f = F.find_fit(fits, link, impl, alg)
            if f:
                out["ar"][alg] = dict(f, source="%s %s" % (impl, alg))
                break
    out["ag"] = F.find_fit(fits, link, "dbx", "allgather")
    if out["ag"] is None or not out["ar"]:
        return None
    if all(a in out["ar"] for a in F.AUTO_SET):
        out["ar"]["auto"] = dict(source="dbx auto (%s)" % "/".join(
            out["ar"][a]["source"].split(" ", 1)[1] for a in F.DBX_ORDER))
    return out


def engine_ar(fit, cores=None, bucket=BUCKET):
    """ar(alg, N, bytes) of dbx's engine with the fitted models of one link."""
    ar, _ = fit_model(fit, cores)
    return lambda alg, N, n: engine(alg, N, n, ar, bucket)


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    out = argv[1]
    per, fit_path, alg_arg = 64, None, None
    i = 2
    while i < len(argv):
        if argv[i] == "--per-worker" and i + 1 < len(argv):
            per = int(argv[i + 1])
        elif argv[i] == "--fit" and i + 1 < len(argv):
            fit_path = argv[i + 1]
        elif argv[i] == "--algorithm" and i + 1 < len(argv):
            alg_arg = {"rd": "recursive_doubling", "mpi": "binomial"}.get(argv[i + 1], argv[i + 1])
            if alg_arg not in ALGS:
                print("scaling_report: --algorithm is one of %s (got %s)" %
                      (", ".join(ALGS), argv[i + 1]), file=sys.stderr)
                return 2
        else:
            print("scaling_report: bad argument %s (see --help)" % argv[i], file=sys.stderr)
            return 2
        i += 2
    rows = []
    for path in sorted(glob.glob(os.path.join(out, "*.jsonl"))):
        label = os.path.basename(path)[:-len(".jsonl")]
        r = summarize(label.rsplit("-", 1)[0], path)
        if r:
            rows.append(r)
    if not rows:
        print("scaling_report: no metrics in", out, file=sys.stderr)
        return 1
    ncores = os.cpu_count() or 1
    for r in rows:  # more ranks than this machine's cores: labelled, never used for the model
        r["oversubscribed"] = r["workers"] > ncores
        if r["oversubscribed"] and "oversubscribed" not in r["config"]:
            r["config"] += " (oversubscribed)"
    rows.sort(key=lambda r: (r["config"] != "local", not r["config"].startswith("local"),
                             r["config"].startswith("netns"), r["workers"], r["config"]))
    base = next((r for r in rows if r["workers"] == 1), rows[0])
    for r in rows:
        r["speedup"] = r["sents_per_s"] / base["sents_per_s"]
        r["efficiency"] = r["speedup"] / r["workers"]

    allreduce = {}
    for path in glob.glob(os.path.join(out, "allreduce-*.json")):
        with open(path) as f:
            allreduce[os.path.basename(path)[len("allreduce-"):-len(".json")]] = json.load(f)

    # the collective models
    if fit_path is None:
        fit_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                "collectives", "fit.json")
    fits, fit_cores = None, ncores
    if os.path.exists(fit_path):
        with open(fit_path) as f:
            fj = json.load(f)
        fits, fit_cores = fj["fits"], fj.get("cores", ncores)
    else:
        cdir = os.path.dirname(fit_path)
        if os.path.isdir(cdir):
            fits, _ = F.fit_all(cdir, ncores)
    if not fits:
        print("scaling_report: no collective models (%s): run bench/collectives.sh and "
              "bench/allreduce_fit.py" % fit_path, file=sys.stderr)
        return 1
    links = {lk: pick_fits(fits, lk) for lk in sorted({f["link"] for f in fits}, key=F.link_order)}
    links = {k: v for k, v in links.items() if v}
    if "veth" not in links:
        print("scaling_report: the models have no plain-veth fits", file=sys.stderr)
        return 1

    # validation on the namespace hosts (plain veth)
    veth = links["veth"]
    val = []
    for r in rows:
        if not r["config"].startswith("netns") or "dense_bytes" not in r:
            continue
        alg = r["algorithm"]
        if alg not in veth["ar"]:
            continue
        N = r["workers"]
        arf = engine_ar(veth, fit_cores, r.get("bucket_bytes", BUCKET))
        agf = fit_model(veth, fit_cores)[1]
        t, pathname = sync_time(N, r["dense_bytes"], r["table_rows"], r["row_floats"],
                                r["rows_per_worker"], lambda n: arf(alg, N, n),
                                lambda n: agf(N, n))
        val.append({"config": r["config"], "workers": N, "algorithm": alg,
                    "model_from": "dbx auto: %s" % " + ".join(sorted({F.dbx_choose(
                        CHOOSER, N, min(r["bucket_bytes"], r["dense_bytes"]))}))
                    if alg == "auto" else (veth["ar"][alg] or {}).get("source", alg),
                    "dense_bytes": r["dense_bytes"], "rows_per_worker": r["rows_per_worker"],
                    "early_bytes": r.get("early_bytes"),
                    "path": pathname, "measured_ms": r["comm_ms"], "model_ms": 1e3 * t,
                    "rel_err": (1e3 * t - r["comm_ms"]) / r["comm_ms"] if r["comm_ms"] else None})

    # projection
    real = min((r for r in rows if r["workers"] > 1), key=lambda r: r["imbalance"],
               default=base)
    shaped = max((r for r in rows if "rows_per_worker" in r), key=lambda r: r["workers"],
                 default=None)
    proj_alg = alg_arg
    if proj_alg is None:  # what the runs name, else auto
        named = {r["algorithm"] for r in rows if r["workers"] > 1}
        proj_alg = named.pop() if len(named) == 1 else "auto"
    series = []
    if shaped:
        D, V, d, rows_w = (shaped["dense_bytes"], shaped["table_rows"], shaped["row_floats"],
                           shaped["rows_per_worker"])
        comp = base["compute_ms"] / 1e3 * real["imbalance"]
        x1 = per / (base["step_ms"] / 1e3)
        fabrics = [(name, fabric_model(a, b, g), {"alpha_s": a, "beta_s_per_byte": b,
                                                  "gamma_s_per_byte": g})
                   for name, a, b, g in FABRICS]
        for lk, lf in links.items():
            fa = lf["ar"].get("ring") or next(iter(v for v in lf["ar"].values() if v))
            fabrics.append(("measured %s (alpha %.0f us, %.2f GB/s)" % (
                "namespace veth" if lk == "veth" else "tbf " + lk, 1e6 * fa["alpha_s"],
                1e-9 / fa["beta_s_per_byte"] if fa["beta_s_per_byte"] else float("inf")),
                (engine_ar(lf), fit_model(lf)[1]), {"link": lk}))
        for name, (arf, agf), params in fabrics:
            # every algorithm with fp32 on the wire, and auto with --grad-wire bf16 (opt-in,
            # changes the results: half the all-reduce bytes)
            for alg, wire in [(a, 1.0) for a in ALGS] + [("auto", 0.5)]:
                if "link" in params and alg not in links[params["link"]]["ar"]:
                    continue  # no fit of this algorithm on this link
                pr = []
                for n in NODES:
                    t_sync, pathname = sync_time(n, D, V, d, rows_w, lambda b: arf(alg, n, b),
                                                 lambda b: agf(n, b), wire)
                    t = comp + t_sync
                    x = n * per / t
                    pr.append({"nodes": n, "step_ms": 1e3 * t, "sync_ms": 1e3 * t_sync,
                               "dense_allreduce_ms": 1e3 * arf(alg, n, D),
                               "embedding_path": pathname, "sents_per_s": x,
                               "efficiency": x / (n * x1)})
                tag = alg.replace("_", " ") + (" + bf16 wire" if wire != 1.0 else "")
                series.append({"fabric": name, "algorithm": alg + ("_bf16_wire" if wire != 1.0
                                                                   else ""),
                               "params": params, "wire_bytes_per_float_byte": wire,
                               "label": "%s, %s" % (name.split(" (")[0], tag), "rows": pr})
    main_series = [s for s in series if s["algorithm"] == proj_alg]

    with open(os.path.join(out, "scaling.json"), "w") as f:
        json.dump({"measured": rows, "allreduce_runs": allreduce, "validation": val,
                   "projection": {
                       "note": "projection from the measured compute and the fitted per-"
                               "algorithm collective models, not a measurement",
                       "algorithm": proj_alg, "fit": fit_path,
                       "series": [{"label": s["label"], "rows": s["rows"]} for s in main_series],
                       "rows": main_series[0]["rows"] if main_series else [],
                       "all": series}}, f, indent=1)
    cols = ["config", "workers", "sents_per_s", "speedup", "efficiency", "step_ms", "compute_ms",
            "imbalance", "allreduce_ms", "comm_ms", "allreduce_bytes", "rows_per_worker",
            "algbw_GBps", "busbw_GBps", "comm_share"]
    with open(os.path.join(out, "scaling.csv"), "w") as f:
        f.write(",".join(cols) + "\n")
        for r in rows:
            f.write(",".join("" if r.get(c) is None else str(r[c]) for c in cols) + "\n")

    def fmt(v, d=2):
        return "-" if v is None else (f"{v:.{d}f}" if isinstance(v, float) else str(v))

    md = ["#### Scaling (measured; weak scaling, %d samples per worker)" % per, "",
          "| config | workers | sents/s | speedup | efficiency | step ms | compute ms | "
          "imbalance | sync ms (max) | sync ms (comm) | MB | rows/worker | comm share |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append("| %s | %d | %.1f | %.2fx | %.0f%% | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | "
                  "%s | %s |" % (r["config"], r["workers"], r["sents_per_s"], r["speedup"],
                                 100 * r["efficiency"], r["step_ms"], r["compute_ms"],
                                 r["imbalance"], r["allreduce_ms"], r["comm_ms"],
                                 r["allreduce_bytes"] / 1e6,
                                 "%.0f" % r["rows_per_worker"] if "rows_per_worker" in r else "-",
                                 "-" if r["comm_share"] is None else
                                 "%.1f%%" % (100 * r["comm_share"])))
    md += ["", "sync ms (max): the slowest worker's gradient synchronisation, which holds the "
           "wait for the slowest compute; sync ms (comm): the fastest worker's, the "
           "collectives' own time (compared with the model below)."]
    if val:
        errs = [abs(v["rel_err"]) for v in val if v["rel_err"] is not None]
        md += ["", "#### Validation: modelled vs measured synchronisation per step "
               "(namespace hosts, plain veth)", "",
               "| config | workers | dense algorithm (model) | rows/worker | early MB | "
               "embedding path | measured ms | model ms | error |",
               "|---|---:|---|---:|---:|---|---:|---:|---:|"]
        for v in val:
            md.append("| %s | %d | %s | %.0f | %s | %s | %.2f | %.2f | %+.0f%% |" % (
                v["config"], v["workers"], v["model_from"], v["rows_per_worker"],
                "-" if v.get("early_bytes") is None else "%.2f" % (v["early_bytes"] / 1e6),
                v["path"],
                v["measured_ms"], v["model_ms"], 100 * v["rel_err"]))
        md += ["", "Error: median %.0f%%, max %.0f%% over %d configurations." % (
            100 * statistics.median(errs), 100 * max(errs), len(errs))]
    if series:
        md += ["", "#### Projection to %d-%d nodes (NOT measured: measured compute + fitted "
               "collective models; dense all-reduce: %s)" % (
                   NODES[0], NODES[-1], proj_alg.replace("_", " ")), "",
               "Per worker: compute %.1f ms (W = 1) x imbalance %.2f (%s), dense gradient %d "
               "bytes, %.0f embedding rows touched (of %d, %d floats each; %s)." % (
                   base["compute_ms"], real["imbalance"], real["config"] + " W=%d" %
                   real["workers"], D, rows_w, V, d, shaped["config"]), "",
               "| fabric | " + " | ".join("%d" % n for n in NODES) + " |",
               "|---|" + "---:|" * len(NODES)]
        for s in main_series:
            md.append("| %s | %s |" % (s["fabric"], " | ".join(
                "%.0f%% (%.1f ms)" % (100 * p["efficiency"], p["sync_ms"]) for p in s["rows"])))
        md += ["", "Cells: weak-scaling efficiency (gradient synchronisation ms per step). By "
               "algorithm at 256 and 1,024 nodes:", "",
               "| fabric | algorithm | eff. 256 | sync ms 256 | eff. 1,024 | sync ms 1,024 | "
               "embedding path at 1,024 |", "|---|---|---:|---:|---:|---:|---|"]
        for s in series:
            p256 = next(p for p in s["rows"] if p["nodes"] == 256)
            p1k = next(p for p in s["rows"] if p["nodes"] == 1024)
            md.append("| %s | %s | %.0f%% | %.1f | %.0f%% | %.1f | %s |" % (
                s["fabric"], s["algorithm"].replace("_", " "), 100 * p256["efficiency"],
                p256["sync_ms"], 100 * p1k["efficiency"], p1k["sync_ms"],
                p1k["embedding_path"]))
    F.write_md(os.path.join(out, "scaling.md"), md)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
