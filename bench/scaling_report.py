#!/usr/bin/env python3
"""Report of bench/scaling.sh: reads the per-step JSON-lines metrics of each configuration
(local-W.jsonl, local-oversubscribed-W.jsonl, netns-3.jsonl) and the all-reduce fits
(allreduce-*.json), and writes scaling.csv, scaling.json and scaling.md into the same folder.
bench/scaling.sh then draws scaling.json with `dbx plot` (scaling-throughput.png,
scaling-efficiency.png: measured points, the projection as dashed labelled lines).

Measured: sentences/s X(N) (median over steps, the first steps skipped as warm-up),
weak-scaling efficiency X(N) / (N X(1)), gradient all-reduce time, algbw = bytes / time,
busbw = algbw * 2 (N - 1) / N, and the communication share of step time.

Projected (labelled as such, not measured): N = 8..256 nodes, one worker per node, step
time = compute time per worker (measured, W = 1) * imbalance (measured at the largest
real configuration) + ring all-reduce 2 (N - 1) alpha + 2 (N - 1) / N * bytes * beta, with
alpha and beta fitted by bench_allreduce on the namespace hosts (TCP), else on this
machine, and the imbalance of the largest configuration that is not oversubscribed (more
ranks than cores).
"""
import glob
import json
import os
import statistics
import sys

WARMUP = 5


def load_steps(path):
    steps = []
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            if o.get("type") == "step":
                steps.append(o)
    return steps


def summarize(label, path):
    steps = load_steps(path)
    if not steps:
        return None
    use = steps[WARMUP:] if len(steps) > WARMUP + 2 else steps
    W = len(use[0]["workers"])
    sps = [s["sents_per_s"] for s in use if s.get("sents_per_s")]
    walls = [s["samples"] / s["sents_per_s"] for s in use if s.get("sents_per_s")]
    ar_ms = [max(w["allreduce_ms"] for w in s["workers"]) for s in use]
    ar_bytes = statistics.median([s["workers"][0]["allreduce_bytes"] for s in use])
    compute = [statistics.mean(w["compute_ms"] for w in s["workers"]) for s in use]
    imb = [s.get("imbalance") or 1.0 for s in use]
    ar = statistics.median(ar_ms) / 1e3
    algbw = ar_bytes / ar / 1e9 if ar > 0 else float("nan")
    busbw = algbw * 2 * (W - 1) / W if W > 1 else algbw
    wall = statistics.median(walls)
    return {
        "config": label, "workers": W, "steps": len(use),
        "sents_per_s": statistics.median(sps),
        "step_ms": 1e3 * wall,
        "compute_ms": statistics.median(compute),
        "imbalance": statistics.median(imb),
        "allreduce_ms": 1e3 * ar,
        "allreduce_bytes": ar_bytes,
        "algbw_GBps": algbw if W > 1 else None,
        "busbw_GBps": busbw if W > 1 else None,
        "comm_share": ar / wall if wall > 0 else None,
    }


def main():
    out = sys.argv[1]
    per = 64
    if "--per-worker" in sys.argv:
        per = int(sys.argv[sys.argv.index("--per-worker") + 1])
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
    rows.sort(key=lambda r: (r["config"] != "local", r["config"], r["workers"]))
    base = next((r for r in rows if r["workers"] == 1), rows[0])
    for r in rows:
        r["speedup"] = r["sents_per_s"] / base["sents_per_s"]
        r["efficiency"] = r["speedup"] / r["workers"]

    fits = {}
    for path in glob.glob(os.path.join(out, "allreduce-*.json")):
        with open(path) as f:
            fits[os.path.basename(path)[len("allreduce-"):-len(".json")]] = json.load(f)
    fit = fits.get("netns-3") or max((v for k, v in fits.items() if v["ranks"] > 1),
                                     key=lambda v: v["ranks"], default=None)
    real = max((r for r in rows if r["workers"] > 1 and not r["oversubscribed"]),
               key=lambda r: r["workers"], default=base)
    proj = []
    if fit:
        a, b = fit["alpha_s"], max(fit["beta_s_per_byte"], 0.0)
        nbytes = real["allreduce_bytes"] or base["allreduce_bytes"]
        comp = base["compute_ms"] / 1e3 * real["imbalance"]
        x1 = per / (base["step_ms"] / 1e3)
        for n in (8, 16, 32, 64, 128, 256):
            t_ar = 2 * (n - 1) * a + 2 * (n - 1) / n * nbytes * b
            t = comp + t_ar
            x = n * per / t
            proj.append({"nodes": n, "step_ms": 1e3 * t, "allreduce_ms": 1e3 * t_ar,
                         "sents_per_s": x, "efficiency": x / (n * x1)})

    with open(os.path.join(out, "scaling.json"), "w") as f:
        json.dump({"measured": rows, "allreduce_fits": fits,
                   "projection": {"note": "projection from the measured cost model and an "
                                  "alpha-beta ring all-reduce model, not a measurement",
                                  "alpha_beta_from": "netns-3" if "netns-3" in fits else "local",
                                  "rows": proj}}, f, indent=1)
    cols = ["config", "workers", "sents_per_s", "speedup", "efficiency", "step_ms", "compute_ms",
            "imbalance", "allreduce_ms", "allreduce_bytes", "algbw_GBps", "busbw_GBps",
            "comm_share"]
    with open(os.path.join(out, "scaling.csv"), "w") as f:
        f.write(",".join(cols) + "\n")
        for r in rows:
            f.write(",".join("" if r.get(c) is None else str(r[c]) for c in cols) + "\n")

    def fmt(v, d=2):
        return "-" if v is None else (f"{v:.{d}f}" if isinstance(v, float) else str(v))

    md = ["## Scaling (measured; weak scaling, %d samples per worker)" % per, "",
          "| config | workers | sents/s | speedup | efficiency | step ms | compute ms | "
          "imbalance | all-reduce ms | MB | algbw GB/s | busbw GB/s | comm share |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append("| %s | %d | %.1f | %.2fx | %.0f%% | %.1f | %.1f | %.2f | %.2f | %.2f | %s | %s |"
                  " %s |" % (r["config"], r["workers"], r["sents_per_s"], r["speedup"],
                             100 * r["efficiency"], r["step_ms"], r["compute_ms"], r["imbalance"],
                             r["allreduce_ms"], r["allreduce_bytes"] / 1e6, fmt(r["algbw_GBps"]),
                             fmt(r["busbw_GBps"]),
                             "-" if r["comm_share"] is None else "%.1f%%" % (100 * r["comm_share"])))
    if proj:
        md += ["", "## Projection to 8-256 nodes (NOT measured: cost model + alpha-beta ring "
               "all-reduce, alpha %.1f us, beta %.3f ns/byte from %s)" %
               (1e6 * fit["alpha_s"], 1e9 * fit["beta_s_per_byte"],
                "the namespace hosts" if "netns-3" in fits else "this machine"), "",
               "| nodes | step ms | all-reduce ms | sents/s | efficiency |",
               "|---:|---:|---:|---:|---:|"]
        for p in proj:
            md.append("| %d | %.1f | %.2f | %.0f | %.0f%% |" % (p["nodes"], p["step_ms"],
                                                             p["allreduce_ms"], p["sents_per_s"],
                                                             100 * p["efficiency"]))
    with open(os.path.join(out, "scaling.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))

    return 0


if __name__ == "__main__":
    sys.exit(main())
