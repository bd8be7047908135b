#!/usr/bin/env python3
"""Cost models of the collectives measured by bench/collectives.sh, fitted per algorithm.

Usage: bench/allreduce_fit.py [DIR]      (DIR: bench/results/collectives)
Reads DIR/LINK-nN-KIND.json (bench_allreduce) and writes DIR/fit.json and DIR/fit.md.
bench/scaling_report.py imports this module for the same models.

Models (t seconds, n bytes, N ranks, L = ceil(log2 N), p = 2^floor(log2 N), e = 1 when N is
not a power of two, else 0; alpha the per-message latency, beta seconds per byte):
  ring (Open MPI tuned 4 and 5, libnbc 1, dbx ring)     2(N-1) alpha + 2(N-1)/N n beta
  recursive doubling (tuned 3, libnbc 4, dbx rd)        (log2 p + 2e)(alpha + n beta)
      (non-power-of-two N: the N - p extra ranks first hand their data to a partner and get
       the result back afterwards: two more steps)
  Rabenseifner (tuned 6, libnbc 3, dbx rabenseifner)    (2 log2 p + 2e) alpha
                                                        + (2(p-1)/p + 2e) n beta
  binomial reduce + broadcast (libnbc 0 and 2: what an in-place MPI_Iallreduce, i.e. dbx's
      training call, runs in Open MPI 4.1; also used for tuned 2, "nonoverlapping": tuned
      reduce then tuned broadcast)                       2L (alpha + n beta)
  basic linear (tuned 1: linear reduce, linear bcast)   2(N-1)(alpha + n beta)
  Open MPI's fixed decision (tuned 0): per point, the model of the algorithm that
      ompi_coll_tuned_allreduce_intra_dec_fixed (Open MPI 4.1, commutative operations) picks
  dbx auto (DBX_ALLREDUCE=auto, dbx's default): per call the algorithm dbx__ar_choose
      (comm/allreduce.c) picks, the cheapest of recursive doubling, Rabenseifner and ring
      under dbx's default cost model (DBX_AR_DEFAULT_* in comm/comm.c, read from the source
      here, or DBX_ALLREDUCE_MODEL when the run records one), timed with the fit of the
      chosen dbx algorithm on the same link: not fitted itself, so its error checks the
      choice and the three fits together.
  (dbx's rd, rabenseifner and ring are exactly the costs of dbx__ar_model_seconds.)
  all-gather (n bytes per rank)                          L alpha + (N-1) n beta
Oversubscription: all N ranks share this machine's C cores (2 here), so from N > C on every
step waits for the scheduler and the CPU-bound TCP stack runs on a share of a core. The fit
takes that as one factor per algorithm, t = (A alpha + B beta) * max(1, N / C)^k, k >= 0
fitted on a grid (0 to 3 by 0.25), so that alpha and beta are those of uncontended ranks
(one per core, as on a real cluster with one rank per node) and k says how much the
oversubscribed runs lose. The report also gives the error of the plain fit (k = 0).
A separate reduction term gamma n is not fitted: in each model the reduced bytes are
proportional to the transferred bytes, so gamma cannot be told apart from beta and beta
includes the reduction. The fit minimises the squared relative error over all N and sizes
of an algorithm and link (alpha, beta >= 0), so small and large messages weigh alike.
The namespace links have no added delay (tc netem is not in this kernel), so alpha is the
veth + TCP + MPI latency of this machine; a real cluster's alpha and beta are stated
separately by the scaling report.
"""
import glob
import json
import math
import os
import re
import statistics
import sys

# run kind (file name) -> (implementation, algorithm)
KINDS = {
    "tuned-0": ("tuned", "default"), "tuned-1": ("tuned", "linear"),
    "tuned-2": ("tuned", "nonoverlapping"), "tuned-3": ("tuned", "recursive_doubling"),
    "tuned-4": ("tuned", "ring"), "tuned-5": ("tuned", "segmented_ring"),
    "tuned-6": ("tuned", "rabenseifner"),
    "libnbc-0": ("libnbc", "binomial"), "libnbc-1": ("libnbc", "ring"),
    "libnbc-2": ("libnbc", "binomial"), "libnbc-3": ("libnbc", "rabenseifner"),
    "libnbc-4": ("libnbc", "recursive_doubling"),
    "dbx-ring": ("dbx", "ring"), "dbx-rd": ("dbx", "recursive_doubling"),
    "dbx-rabenseifner": ("dbx", "rabenseifner"), "dbx-mpi": ("dbx", "binomial"),
    "dbx-auto": ("dbx", "auto"),
    "allgather": ("dbx", "allgather"),
}
TUNED_NAMES = {1: "linear", 2: "nonoverlapping", 3: "recursive_doubling", 4: "ring",
               5: "segmented_ring", 6: "rabenseifner"}
LABEL = {"ring": "ring", "segmented_ring": "segmented ring",
         "recursive_doubling": "recursive doubling", "rabenseifner": "Rabenseifner",
         "binomial": "binomial reduce + bcast", "linear": "basic linear",
         "nonoverlapping": "nonoverlapping (reduce + bcast)", "default": "fixed decision",
         "auto": "auto", "allgather": "all-gather (bytes per rank)"}
FILE_RE = re.compile(r"^(?P<link>[^-]+)-n(?P<n>\d+)-(?P<kind>.+)\.json$")


def tuned_default(N, n):
    """The algorithm Open MPI 4.1's coll tuned fixed decision picks for a commutative
    all-reduce of n bytes on N ranks (ompi_coll_tuned_allreduce_intra_dec_fixed)."""
    def pick(rules, last):
        for lim, alg in rules:
            if n < lim:
                return alg
        return last
    if N < 4:
        a = pick([(8, 4), (4096, 3), (8192, 4), (16384, 3), (65536, 4), (262144, 5)], 6)
    elif N < 8:
        a = pick([(16, 4), (8192, 3)], 6)
    elif N < 16:
        a = pick([(8192, 3)], 6)
    elif N < 32:
        a = pick([(64, 5), (4096, 3)], 6)
    elif N < 64:
        a = pick([(128, 5)], 6)
    elif N < 128:
        a = pick([(262144, 3)], 6)
    elif N < 256:
        a = pick([(131072, 2), (262144, 3)], 6)
    elif N < 512:
        a = pick([(4096, 2)], 6)
    elif N < 2048:
        a = pick([(2048, 2), (16384, 3)], 6)
    elif N < 4096:
        a = pick([(2048, 2), (4096, 5), (16384, 3)], 6)
    else:
        a = pick([(2048, 2), (16384, 5), (32768, 3)], 6)
    return TUNED_NAMES[a]


def coeffs(alg, N, n):
    """(latency count, byte count): t = A alpha + B beta for algorithm alg."""
    if N <= 1:
        return 0.0, 0.0
    L = math.ceil(math.log2(N))
    p = 1 << int(math.floor(math.log2(N)))
    lp = math.log2(p)
    e = 0 if p == N else 1
    if alg in ("ring", "segmented_ring"):
        return 2.0 * (N - 1), 2.0 * (N - 1) / N * n
    if alg == "recursive_doubling":
        return lp + 2 * e, (lp + 2 * e) * n
    if alg == "rabenseifner":
        return 2 * lp + 2 * e, (2.0 * (p - 1) / p + 2 * e) * n
    if alg in ("binomial", "nonoverlapping"):
        return 2.0 * L, 2.0 * L * n
    if alg == "linear":
        return 2.0 * (N - 1), 2.0 * (N - 1) * n
    if alg == "allgather":
        return float(L), float(N - 1) * n
    if alg == "default":
        return coeffs(tuned_default(N, n), N, n)
    raise ValueError("no model for algorithm %r" % alg)


AUTO_SET = ("ring", "recursive_doubling", "rabenseifner")
# dbx__ar_choose's candidates in its order (a tie keeps the earlier one)
DBX_ORDER = ("recursive_doubling", "rabenseifner", "ring")
DBX_NAMES = {"rd": "recursive_doubling", "rabenseifner": "rabenseifner", "ring": "ring"}


def dbx_choose(model, N, n):
    """dbx__ar_choose: model {alg: (alpha, beta)} for DBX_ORDER; the algorithm dbx runs."""
    best, tb = None, None
    for a in DBX_ORDER:
        t = predict(a, N, n, *model[a])
        if tb is None or t < tb:
            best, tb = a, t
    return best


def parse_model(spec):
    """DBX_ALLREDUCE_MODEL "rd=ALPHA_US,BETA_NS;..." -> {alg: (alpha s, beta s/B)}."""
    out = {}
    for part in filter(None, (x.strip() for x in spec.split(";"))):
        name, v = part.split("=")
        a, b = v.split(",")
        out[DBX_NAMES[name.strip()]] = (float(a) * 1e-6, float(b) * 1e-9)
    return out


def dbx_default_model(root=None):
    """dbx's default all-reduce cost model, read from comm/comm.c (DBX_AR_DEFAULT_RD,
    _RAB, _RING {alpha s, beta s/B}; or one DBX_AR_DEFAULT_COST for all three)."""
    root = root or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    with open(os.path.join(root, "comm", "comm.c")) as f:
        src = f.read()
    num = r"\{\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*\}"
    out = {}
    for key, alg in (("RD", "recursive_doubling"), ("RAB", "rabenseifner"), ("RING", "ring")):
        m = re.search(r"#define\s+DBX_AR_DEFAULT_%s\s+%s" % (key, num), src) or \
            re.search(r"#define\s+DBX_AR_DEFAULT_COST\s+%s" % num, src)
        out[alg] = (float(m.group(1)), float(m.group(2)))
    return out


def contention(N, cores, k):
    """The oversubscription factor max(1, N / cores)^k (1 without cores)."""
    return max(1.0, N / cores) ** k if cores and k else 1.0


def predict(alg, N, n, alpha, beta, k=0.0, cores=None):
    """Modelled seconds of one collective of n bytes on N ranks (on `cores` cores: with the
    fitted oversubscription exponent k; cores None: one rank per core or node)."""
    if alg in ("auto", "best"):
        return min(predict(a, N, n, alpha, beta, k, cores) for a in AUTO_SET)
    A, B = coeffs(alg, N, n)
    return (A * alpha + B * beta) * contention(N, cores, k)


def fit_contended(points, alg, cores):
    """fit() with the oversubscription exponent k on a grid: (alpha, beta, k, (med, max))."""
    best = None
    for i in range(13):
        k = 0.25 * i
        q = [(N, n, t / contention(N, cores, k)) for N, n, t in points]
        al, be, _ = fit(q, alg)
        rel = [abs(predict(alg, N, n, al, be, k, cores) - t) / t for N, n, t in points]
        sse = sum(r * r for r in rel)
        if best is None or sse < best[0]:
            best = (sse, al, be, k, (statistics.median(rel), max(rel)))
    return best[1:]


def fit(points, alg):
    """Least squares in relative error, alpha, beta >= 0. points: [(N, n, t)]."""
    if alg == "auto":  # min of models: fit each and keep the pair with the least error
        best = None
        for a in AUTO_SET:
            al, be, _ = fit(points, a)
            err = errors(points, "auto", al, be)
            if best is None or err[0] < best[2][0]:
                best = (al, be, err)
        return best[0], best[1], best[2]
    rows = []
    for N, n, t in points:
        A, B = coeffs(alg, N, n)
        rows.append((A / t, B / t))

    def solve(use_a, use_b):
        saa = sum(r[0] * r[0] for r in rows)
        sbb = sum(r[1] * r[1] for r in rows)
        sab = sum(r[0] * r[1] for r in rows)
        sa = sum(r[0] for r in rows)
        sb = sum(r[1] for r in rows)
        if use_a and use_b:
            det = saa * sbb - sab * sab
            if det <= 0:
                return None
            return (sa * sbb - sb * sab) / det, (sb * saa - sa * sab) / det
        if use_a:
            return (sa / saa if saa > 0 else 0.0), 0.0
        return 0.0, (sb / sbb if sbb > 0 else 0.0)

    cands = [c for c in (solve(1, 1), solve(1, 0), solve(0, 1)) if c and c[0] >= 0 and c[1] >= 0]

    def sse(c):
        return sum((c[0] * r[0] + c[1] * r[1] - 1) ** 2 for r in rows)
    al, be = min(cands, key=sse)
    return al, be, errors(points, alg, al, be)


def errors(points, alg, alpha, beta):
    rel = [abs(predict(alg, N, n, alpha, beta) - t) / t for N, n, t in points]
    return statistics.median(rel), max(rel)


def load_runs(d):
    """{(link, impl, alg): [(N, bytes, seconds)]} and {(link, N, kind): json}."""
    pts, raw = {}, {}
    for path in sorted(glob.glob(os.path.join(d, "*.json"))):
        m = FILE_RE.match(os.path.basename(path))
        if not m or m.group("kind") not in KINDS:
            continue
        try:
            with open(path) as f:
                j = json.load(f)
        except (OSError, ValueError) as e:
            print("allreduce_fit: skipping %s: %s" % (path, e), file=sys.stderr)
            continue
        link, N, kind = m.group("link"), int(m.group("n")), m.group("kind")
        raw[(link, N, kind)] = j
        impl, alg = KINDS[kind]
        for s in j.get("sizes", []):
            if s.get("seconds", 0) > 0:
                pts.setdefault((link, impl, alg), []).append((N, float(s["bytes"]), s["seconds"]))
    return pts, raw


def link_order(link):
    return (0, 0) if link == "veth" else (1, -float(re.sub(r"[^0-9.]", "", link) or 0))


def fit_all(d, cores):
    pts, raw = load_runs(d)
    if not pts:
        return None, raw
    fits = []
    for (link, impl, alg), p in sorted(pts.items(), key=lambda kv: (link_order(kv[0][0]),
                                                                     kv[0][1], kv[0][2])):
        if impl == "dbx" and alg == "auto":
            continue  # below, from the three fits
        al, be, k, (med, mx) = fit_contended(p, alg, cores)
        _, _, (med0, mx0) = fit(p, alg)
        by_n = {}
        for N in sorted({q[0] for q in p}):
            rel = [abs(predict(alg, N, n, al, be, k, cores) - t) / t for M, n, t in p if M == N]
            by_n[str(N)] = statistics.median(rel)
        fits.append({"link": link, "impl": impl, "algorithm": alg, "alpha_s": al,
                     "beta_s_per_byte": be, "contention_k": k, "cores": cores,
                     "points": len(p), "ranks": sorted({q[0] for q in p}),
                     "median_rel_err": med, "max_rel_err": mx,
                     "median_rel_err_by_ranks": by_n,
                     "plain_fit_median_rel_err": med0, "plain_fit_max_rel_err": mx0})
    for (link, impl, alg), p in sorted(pts.items()):
        if (impl, alg) != ("dbx", "auto"):
            continue
        sub = {a: find_fit(fits, link, "dbx", a) for a in DBX_ORDER}
        if not all(sub.values()):
            continue
        spec = next((j.get("mpi", {}).get("DBX_ALLREDUCE_MODEL") for (lk, _, kd), j in
                     raw.items() if lk == link and kd == "dbx-auto"), None)
        model = parse_model(spec) if spec else dbx_default_model()
        rel, by, chosen = [], {}, {}
        for N, n, t in p:
            a = dbx_choose(model, N, n)
            f = sub[a]
            m = predict(a, N, n, f["alpha_s"], f["beta_s_per_byte"], f["contention_k"], cores)
            rel.append(abs(m - t) / t)
            by.setdefault(N, []).append(rel[-1])
            chosen.setdefault(a, 0)
            chosen[a] += 1
        fits.append({"link": link, "impl": "dbx", "algorithm": "auto", "alpha_s": None,
                     "beta_s_per_byte": None, "contention_k": None, "cores": cores,
                     "points": len(p), "ranks": sorted(by), "chooser_model":
                     {a: list(v) for a, v in model.items()}, "chosen": chosen,
                     "median_rel_err": statistics.median(rel), "max_rel_err": max(rel),
                     "median_rel_err_by_ranks": {str(N): statistics.median(v)
                                                 for N, v in sorted(by.items())},
                     "plain_fit_median_rel_err": None, "plain_fit_max_rel_err": None})
    return fits, raw


def find_fit(fits, link, impl, alg):
    for f in fits:
        if f["link"] == link and f["impl"] == impl and f["algorithm"] == alg:
            return f
    return None


def default_check(raw, links, ns):
    """For Open MPI's default (tuned 0): which forced algorithm's measured time is nearest,
    per link, N and size, beside what the 4.1 decision table says."""
    rows = []
    for link in links:
        for N in ns:
            d = raw.get((link, N, "tuned-0"))
            if not d:
                continue
            for s in d["sizes"]:
                best, bt = None, None
                for k in range(1, 7):
                    o = raw.get((link, N, "tuned-%d" % k))
                    if not o:
                        continue
                    t = next((x["seconds"] for x in o["sizes"] if x["bytes"] == s["bytes"]), None)
                    if t and (bt is None or abs(t - s["seconds"]) < abs(bt - s["seconds"])):
                        best, bt = TUNED_NAMES[k], t
                rows.append({"link": link, "ranks": N, "bytes": s["bytes"],
                             "table": tuned_default(N, s["bytes"]), "nearest_measured": best})
    return rows


def write_md(path, lines):
    """Writes the Markdown lines to path and prints them."""
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv):
    if len(argv) > 1 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    d = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "results", "collectives")
    if not os.path.isdir(d):
        print("allreduce_fit: no directory %s (run bench/collectives.sh first)" % d,
              file=sys.stderr)
        return 1
    cores = os.cpu_count() or 1
    fits, raw = fit_all(d, cores)
    if not fits:
        print("allreduce_fit: no bench_allreduce results (LINK-nN-KIND.json) in %s" % d,
              file=sys.stderr)
        return 1
    links = sorted({f["link"] for f in fits}, key=link_order)
    ns = sorted({k[1] for k in raw})
    dchk = default_check(raw, links, ns)
    lib = next((j.get("mpi", {}).get("library") for j in raw.values() if j.get("mpi")), None)
    with open(os.path.join(d, "fit.json"), "w") as f:
        json.dump({"note": "alpha-beta models per algorithm, fitted over N = %s ranks on "
                   "network-namespace hosts sharing %d cores (oversubscribed from %d ranks); "
                   "t = (A alpha + B beta) max(1, N / cores)^contention_k" %
                   (ns, cores, cores + 1), "cores": cores,
                   "mpi_library": lib, "fits": fits, "default_check": dchk}, f, indent=1)

    md = ["### All-reduce cost models per algorithm (fitted; `bench/allreduce_fit.py`)", "",
          "Least squares in relative error over N = %s namespace hosts (one rank each) and "
          "%s bytes; this machine has %d cores, so from %d hosts on the ranks are "
          "oversubscribed: the fit is t = (A alpha + B beta) max(1, N / cores)^k, so that alpha "
          "and beta are those of one rank per core and k what oversubscription costs; "
          "\"plain\" is the error of the fit without that factor. %s." % (", ".join(map(str, ns)),
                   "%.0f-%.0f" % (min(p[1] for v in load_runs(d)[0].values() for p in v),
                                  max(p[1] for v in load_runs(d)[0].values() for p in v)),
                   os.cpu_count() or 1, (os.cpu_count() or 1) + 1, lib or "MPI"), ""]
    for link in links:
        md += ["#### Link: %s" % ("plain veth (not shaped)" if link == "veth" else
                                  "%s per host and direction (tc tbf)" % link), "",
               "| implementation | algorithm | alpha us | beta ns/B | 1/beta GB/s | k | points | "
               "median error | max error | median error by N | plain: median, max |",
               "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
        for f in fits:
            if f["link"] != link:
                continue
            if f["alpha_s"] is None:  # dbx auto: the chooser with the three fits
                md.append("| dbx | auto (chooses %s) | - | - | - | - | %d | %.0f%% | %.0f%% | %s | "
                          "- |" % (", ".join("%s %d" % (LABEL[a], c) for a, c in
                                             sorted(f["chosen"].items())), f["points"],
                                   100 * f["median_rel_err"], 100 * f["max_rel_err"],
                                   " ".join("%s:%.0f%%" % (N, 100 * e) for N, e in
                                            f["median_rel_err_by_ranks"].items())))
                continue
            md.append("| %s | %s | %.1f | %.3f | %s | %.2f | %d | %.0f%% | %.0f%% | %s | %.0f%%, "
                      "%.0f%% |" % (
                          f["impl"], LABEL.get(f["algorithm"], f["algorithm"]),
                          1e6 * f["alpha_s"], 1e9 * f["beta_s_per_byte"],
                          "%.2f" % (1e-9 / f["beta_s_per_byte"]) if f["beta_s_per_byte"] > 0
                          else "-", f["contention_k"], f["points"],
                          100 * f["median_rel_err"], 100 * f["max_rel_err"],
                          " ".join("%s:%.0f%%" % (N, 100 * e)
                                   for N, e in f["median_rel_err_by_ranks"].items()),
                          100 * f["plain_fit_median_rel_err"], 100 * f["plain_fit_max_rel_err"]))
        md.append("")
        # measured time of dbx's dense gradient (Tree-LSTM, size 128) per algorithm and N
        sz = 727040
        kinds = [k for k in KINDS if k != "allgather" and any((link, N, k) in raw for N in ns)]
        if kinds:
            md += ["Measured all-reduce of %d bytes (the Tree-LSTM's dense gradient at size "
                   "128), ms (median):" % sz, "",
                   "| run | " + " | ".join("N=%d" % N for N in ns) + " |",
                   "|---|" + "---:|" * len(ns)]
            for k in kinds:
                impl, alg = KINDS[k]
                cells = []
                for N in ns:
                    j = raw.get((link, N, k))
                    t = next((s["seconds"] for s in j["sizes"] if s["bytes"] == sz), None) \
                        if j else None
                    cells.append("-" if t is None else "%.2f" % (1e3 * t))
                md.append("| %s %s | %s |" % (impl, LABEL.get(alg, alg), " | ".join(cells)))
            md.append("")
    agree = [r for r in dchk if r["bytes"] >= 65536]
    if agree:
        same = sum(1 for r in agree if r["table"] == r["nearest_measured"] or
                   {r["table"], r["nearest_measured"]} <= {"ring", "segmented_ring"})
        md += ["Open MPI's default (tuned 0) for 64 KiB and more: its 4.1 decision table picks "
               "%s; the forced algorithm whose measured time is nearest agrees in %d of %d "
               "(link, N, size) points." % (
                   ", ".join(sorted({LABEL[r["table"]] for r in agree})), same, len(agree)), ""]
    write_md(os.path.join(d, "fit.md"), md)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
