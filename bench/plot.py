#!/usr/bin/env python3
"""bench/plot.py: the reporting half of bench/run.

  plot.py machine OUT.json --compiler CXX --repetitions N --min-time S --cuda ON|OFF
      describes the machine (lscpu, cores, compiler, libraries, date) into OUT.json
  plot.py report DIR
      reads DIR/{machine,hot,stream,memory,gpu}.json (Google Benchmark output),
      DIR/profile.txt and DIR/rmm.json, writes DIR/RESULTS.md (medians, ratios, targets)
      and DIR/*.png
  plot.py rmm-section DIR
      rewrites only the RMM section of DIR/RESULTS.md from DIR/rmm.json
  plot.py slab-section DIR
      rewrites only the slab section of DIR/RESULTS.md from DIR/slab.json

Only the standard library and matplotlib (Debian's python3-matplotlib).
"""

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime, timezone

SIZES = [256, 4 << 10, 64 << 10, 1 << 20, 8 << 20, 64 << 20]
HOT_PEERS = ["pinpool", "malloc", "pmr_unsync", "pmr_sync", "mimalloc", "jemalloc",
             "mutex_freelist", "fresh_locked"]
MIX_ORDER = ["image_frames", "tensors", "log_uniform_2KiB_64MiB", "uniform_2KiB_1MiB",
             "log_uniform_256B_64MiB", "small_1B_2KiB"]
TIME_FACTOR = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


# ---- machine --------------------------------------------------------------------------------------

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              check=False).stdout.strip()
    except OSError:
        return "?"


def lscpu_field(name):
    for line in sh("lscpu").splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return "?"


def cmd_machine(args):
    info = {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu_model": lscpu_field("Model name"),
        "cpus": os.cpu_count(),
        "cores_per_socket": lscpu_field("Core(s) per socket"),
        "threads_per_core": lscpu_field("Thread(s) per core"),
        "sockets": lscpu_field("Socket(s)"),
        "hypervisor": lscpu_field("Hypervisor vendor"),
        "l2_l3": f"{lscpu_field('L2 cache')} / {lscpu_field('L3 cache')}",
        "memory": sh("free -h | awk '/^Mem:/ {print $2}'"),
        "kernel": sh("uname -r"),
        "compiler": sh(f"'{args.compiler}' --version | head -1"),
        "build_type": "Release",
        "glibc": sh("ldd --version | head -1"),
        "google_benchmark": sh("dpkg-query -W -f='${Version}' libbenchmark-dev") or "?",
        "mimalloc": sh("dpkg-query -W -f='${Version}' libmimalloc-dev") or "missing",
        "jemalloc": sh("dpkg-query -W -f='${Version}' libjemalloc-dev") or "missing",
        "cuda_build": args.cuda,
        "memlock_limit_kib": sh("ulimit -l"),
        "load_average_at_start": " ".join(open("/proc/loadavg").read().split()[:3]),
        "git_commit": sh("git rev-parse --short HEAD") or "?",
        # --no-optional-locks: never touch the index others may be committing with.
        "git_dirty_files": len(sh("git --no-optional-locks status --porcelain").splitlines()),
        "repetitions": args.repetitions,
        "min_time_s": args.min_time,
    }
    with open(args.out, "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")


# ---- Google Benchmark JSON ---------------------------------------------------------------------------

def parse_name(run_name):
    """'hot/pinpool/bytes:256/real_time/threads:2' -> ('hot/pinpool', {'bytes': 256, 'threads': 2})"""
    family, params = [], {}
    for part in run_name.split("/"):
        if ":" in part:
            k, v = part.split(":", 1)
            if k in ("iterations", "repeats", "min_time"):
                continue
            try:
                params[k] = int(v)
            except ValueError:
                params[k] = v
        elif part not in ("real_time", "process_time", "manual_time"):
            family.append(part)
    return "/".join(family), params


class Results:
    """Medians (and CVs) of one suite's JSON, keyed by (family, frozen params)."""

    def __init__(self, path):
        self.ok = os.path.exists(path) and os.path.getsize(path) > 0
        self.context, self.rows, self.errors = {}, {}, {}
        if not self.ok:
            return
        with open(path) as f:
            data = json.load(f)
        self.context = data.get("context", {})
        singles = {}
        for b in data.get("benchmarks", []):
            family, params = parse_name(b["run_name"])
            if "threads" not in params:
                params["threads"] = b.get("threads", 1)
            key = (family, tuple(sorted(params.items())))
            if b.get("error_occurred"):
                self.errors[key] = b.get("error_message", "error")
                continue
            if b.get("run_type") == "aggregate":
                self.rows.setdefault(key, {})[b["aggregate_name"]] = b
            else:
                singles.setdefault(key, b)
        for key, b in singles.items():  # --quick: one repetition, no aggregates
            self.rows.setdefault(key, {}).setdefault("median", b)

    def get(self, family, **params):
        key = (family, tuple(sorted(params.items())))
        return self.rows.get(key, {}).get("median")

    def cv(self, family, **params):
        key = (family, tuple(sorted(params.items())))
        c = self.rows.get(key, {}).get("cv")
        return None if c is None else c.get("real_time")

    def error(self, family, **params):
        return self.errors.get((family, tuple(sorted(params.items()))))

    def ns(self, family, **params):
        b = self.get(family, **params)
        if b is None:
            return None
        return b["real_time"] * TIME_FACTOR.get(b.get("time_unit", "ns"), 1.0)

    def counter(self, name, family, **params):
        b = self.get(family, **params)
        return None if b is None else b.get(name)


# ---- formatting ----------------------------------------------------------------------------------------

def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or n % 1024:
            return f"{n} {unit}"
        n //= 1024
    return f"{n} TiB"


def fmt_ns(v):
    if v is None:
        return "–"
    if v < 100:
        return f"{v:.1f}"
    return f"{v:,.0f}"


def fmt_ratio(v):
    if v is None:
        return "–"
    if v >= 1000:
        return f"{v:,.0f}x"
    if v >= 10:
        return f"{v:.0f}x"
    return f"{v:.2f}x"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def verdict(ok):
    return "**met**" if ok else "**missed**"


# ---- charts -------------------------------------------------------------------------------------------

def charts_available():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
        return True
    except ImportError:
        return False


def line_chart(path, title, series, xlabel, ylabel, xticks=None, logx=True, logy=True,
               hline=None):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for label, xs, ys in series:
        pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label,
                    linewidth=2.5 if label == "pinpool" or label.startswith("pinpool") else 1.3)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    if xticks:
        ax.set_xticks([t[0] for t in xticks])
        ax.set_xticklabels([t[1] for t in xticks])
    if hline is not None:
        ax.axhline(hline, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def bar_chart(path, title, groups, schemes, values, ylabel, logy=True):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(10, 5.5))
    width = 0.8 / max(1, len(schemes))
    for i, scheme in enumerate(schemes):
        xs = [g + i * width for g in range(len(groups))]
        ys = [values.get((grp, scheme)) or 0 for grp in groups]
        ax.bar(xs, ys, width, label=scheme)
    ax.set_xticks([g + width * (len(schemes) - 1) / 2 for g in range(len(groups))])
    ax.set_xticklabels(groups, rotation=15, fontsize=8)
    if logy:
        ax.set_yscale("log")
    ax.axhline(12.5, color="red", linestyle="--", linewidth=1, label="12.5% target")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- report sections ----------------------------------------------------------------------------------

def section_machine(m, suites):
    m = dict(m)
    for name, res in suites:
        if res.ok and res.context.get("load_avg"):
            m[f"load_average_before_{name}"] = " ".join(f"{x:.2f}" for x in res.context["load_avg"])
    rows = [[k, m[k]] for k in [k for k in m if k.startswith("load_average_") and
                                k != "load_average_at_start"]]
    rows = [[k, m.get(k, "?")] for k in (
        "date_utc", "cpu_model", "cpus", "cores_per_socket", "threads_per_core", "sockets",
        "hypervisor", "l2_l3", "memory", "kernel", "compiler", "build_type", "glibc",
        "google_benchmark", "mimalloc", "jemalloc", "cuda_build", "memlock_limit_kib",
        "load_average_at_start", "git_commit", "git_dirty_files", "repetitions",
        "min_time_s")] + rows
    return "## Machine\n\n" + table(["", ""], rows) + "\n"


def hot_data(hot):
    one = {p: {s: hot.ns(f"hot/{p}", bytes=s, threads=1) for s in SIZES} for p in HOT_PEERS}
    # Google Benchmark divides wall time by the operations of all threads: x2 gives the
    # latency one thread sees per round trip.
    two = {p: {s: (lambda v: None if v is None else 2 * v)(hot.ns(f"hot/{p}", bytes=s, threads=2))
               for s in SIZES} for p in HOT_PEERS}
    return one, two


def section_hot(hot, out_dir, charts):
    if not hot.ok:
        return "## Suite 1: hot path\n\nNot run.\n", {}
    one, two = hot_data(hot)
    pooled = int(hot.context.get("pmr_largest_pooled_block", "0") or 0)
    lines = ["## Suite 1: hot path (acquire + touch + release)", ""]
    lines.append(
        "Median wall time per round trip in ns (1 thread). With 2 threads the figure is the "
        "latency one thread sees per round trip (Google Benchmark's per-operation time x 2), "
        "both threads running at once on the shared structure (or their own, for "
        "pmr_unsync/malloc/mimalloc/jemalloc thread caches). On a 2-core machine that "
        "nothing else loads, each thread has a core and the 2-thread figures measure real "
        "contention (cache-line transfers, futex sleeps); on a loaded one the scheduler "
        "time-slices the two threads and hides it, so check the load averages above.")
    lines.append("")
    for title, data in (("1 thread", one), ("2 threads, per-thread latency", two)):
        lines.append(f"### ns per round trip, {title}")
        lines.append("")
        rows = [[human_bytes(s)] + [fmt_ns(data[p][s]) for p in HOT_PEERS] for s in SIZES]
        lines.append(table(["size"] + HOT_PEERS, rows))
        lines.append("")
        lines.append(f"### Ratios, {title}: peer time / pinpool time (> 1: pinpool is faster)")
        lines.append("")
        rows = [[human_bytes(s)] + [fmt_ratio(ratio(data[p][s], data["pinpool"][s]))
                                    for p in HOT_PEERS[1:]] for s in SIZES]
        lines.append(table(["size"] + [f"{p}/pinpool" for p in HOT_PEERS[1:]], rows))
        lines.append("")
    lines.append("### Two threads against one (per-thread latency, 2 threads / 1 thread)")
    lines.append("")
    rows = [[human_bytes(s)] + [fmt_ratio(ratio(two[p][s], one[p][s])) for p in HOT_PEERS]
            for s in SIZES]
    lines.append(table(["size"] + HOT_PEERS, rows))
    lines.append("")
    cvs = [c for c in (hot.cv(f"hot/{p}", bytes=s, threads=t) for p in HOT_PEERS for s in SIZES
                       for t in (1, 2)) if c is not None]
    if cvs:
        cvs.sort()
        lines.append(f"Noise: coefficient of variation of the repetitions, median "
                     f"{100 * cvs[len(cvs) // 2]:.1f}%, worst {100 * cvs[-1]:.1f}%.")
        lines.append("")
    errs = sorted({f"{fam}: {msg}" for (fam, _), msg in hot.errors.items()})
    if errs:
        lines.append("Skipped: " + "; ".join(errs))
        lines.append("")
    lines.append(f"std::pmr pools: libstdc++ pools blocks up to {human_bytes(pooled)} "
                 f"(largest_required_pool_block was asked as 64 MiB and clamped); larger "
                 f"requests go to new/delete (malloc). mimalloc: {hot.context.get('mimalloc')}; "
                 f"jemalloc: {hot.context.get('jemalloc')}; pinpool's slabs page-locked: "
                 f"{hot.context.get('pinpool_page_locked')}.")
    lines.append("")
    if charts:
        ticks = [(s, human_bytes(s)) for s in SIZES]
        line_chart(os.path.join(out_dir, "hot_1thread.png"),
                   "Round trip, 1 thread (median ns, log scale)",
                   [(p, SIZES, [one[p][s] for s in SIZES]) for p in HOT_PEERS],
                   "request size", "ns per acquire+touch+release", ticks)
        line_chart(os.path.join(out_dir, "hot_2threads.png"),
                   "Round trip, 2 threads: per-thread latency (median ns, log scale)",
                   [(p, SIZES, [two[p][s] for s in SIZES]) for p in HOT_PEERS],
                   "request size", "ns per round trip seen by one thread", ticks)
        line_chart(os.path.join(out_dir, "hot_ratios.png"),
                   "Peer time / pinpool time, 1 thread (> 1: pinpool faster)",
                   [(p, SIZES, [ratio(one[p][s], one["pinpool"][s]) for s in SIZES])
                    for p in HOT_PEERS[1:]],
                   "request size", "ratio", ticks, hline=1.0)
        lines.append("![1 thread](hot_1thread.png) ![2 threads](hot_2threads.png) "
                     "![ratios](hot_ratios.png)")
        lines.append("")
    return "\n".join(lines), {"one": one, "two": two, "pooled": pooled}


def section_targets(hot_facts, memory):
    lines = ["## Targets", ""]
    rows = []
    if hot_facts:
        one, two, pooled = hot_facts["one"], hot_facts["two"], hot_facts["pooled"]
        v = one["pinpool"][64 << 10]
        rows.append(["median hot acquire+release <= 10 ns (64 KiB, 1 thread)",
                     f"{fmt_ns(v)} ns", verdict(v is not None and v <= 10)])
        for t, data in (("1 thread", one), ("2 threads", two)):
            rs = [ratio(data["pmr_sync"][s], data["pinpool"][s]) for s in SIZES if s <= pooled]
            worst = min((r for r in rs if r is not None), default=None)
            rows.append([f">= 3x faster than pmr::synchronized_pool_resource at every pooled "
                         f"size (<= {human_bytes(pooled)}), {t}",
                         "worst " + fmt_ratio(worst) + " (" +
                         ", ".join(fmt_ratio(r) for r in rs) + ")",
                         verdict(worst is not None and worst >= 3)])
        for t, data in (("1 thread", one), ("2 threads", two)):
            rs = [ratio(data["pinpool"][s], data["mutex_freelist"][s]) for s in SIZES]
            worst = max((r for r in rs if r is not None), default=None)
            rows.append([f"within 1.5x of the mutex-protected free list (pinpool / free list), "
                         f"{t}", "worst " + fmt_ratio(worst) + " (" +
                         ", ".join(fmt_ratio(r) for r in rs) + ")",
                         verdict(worst is not None and worst <= 1.5)])
        r = ratio(one["fresh_locked"][8 << 20], one["pinpool"][8 << 20])
        rows.append(["100,000x faster than a fresh locked 8 MiB buffer (1 thread)", fmt_ratio(r),
                     verdict(r is not None and r >= 1e5)])
        rs = [ratio(two["pinpool"][s], one["pinpool"][s]) for s in SIZES]
        worst = max((r for r in rs if r is not None), default=None)
        rows.append(["two threads no worse than 2x the one-thread time per operation "
                     "(per-thread latency with 2 threads / with 1 thread; 2x = the threads "
                     "fully serialised, more = contention costs on top)",
                     "worst " + fmt_ratio(worst) + " (" + ", ".join(fmt_ratio(r) for r in rs) + ")",
                     verdict(worst is not None and worst <= 2)])
    if memory.ok:
        worst, worst_mix = 0.0, ""
        for fam, _ in memory.rows:
            if fam.startswith("waste/") and fam.endswith("/pinpool") and "small" not in fam \
                    and "256B" not in fam:
                m = memory.counter("max_waste_pct", fam, threads=1) or 0
                if m > worst:
                    worst, worst_mix = m, fam.split("/")[1]
        rows.append(["rounding waste <= 12.5% (worst single request, requests >= 2 KiB)",
                     f"{worst:.3f}% ({worst_mix})", verdict(worst <= 12.5)])
    lines.append(table(["target", "measured", "verdict"], rows))
    lines.append("")
    return "\n".join(lines)


def section_stream(stream, out_dir, charts):
    if not stream.ok:
        return "## Suite 2: stream-ordered cycle\n\nNot run.\n"
    lines = ["## Suite 2: stream-ordered cycle (CPU backend)", "",
             "Median wall time per cycle in ns (acquire, enqueue trivial work, release). "
             "`pinpool_ordered` releases on the stream (no host block) and synchronises every "
             "32 cycles per stream; the other two synchronise the stream every cycle before "
             "releasing / freeing.", ""]
    variants = ["pinpool_ordered", "pinpool_sync_release", "malloc_sync_free"]
    rows = []
    series = {}
    for b in (64 << 10, 8 << 20):
        for n in range(1, 5):
            v = {x: stream.ns(f"stream/{x}", streams=n, bytes=b, threads=1) for x in variants}
            hit = stream.counter("hit_rate", "stream/pinpool_ordered", streams=n, bytes=b, threads=1)
            rows.append([human_bytes(b), n] + [fmt_ns(v[x]) for x in variants] +
                        [fmt_ratio(ratio(v["pinpool_sync_release"], v["pinpool_ordered"])),
                         fmt_ratio(ratio(v["malloc_sync_free"], v["pinpool_ordered"])),
                         "–" if hit is None else f"{hit:.4f}"])
            for x in variants:
                series.setdefault((b, x), []).append(v[x])
    lines.append(table(["size", "streams"] + variants +
                       ["sync_release/ordered", "malloc_sync_free/ordered", "ordered hit rate"],
                       rows))
    lines.append("")
    cvs = sorted(c for c in (stream.cv(fam, **dict(params)) for fam, params in stream.rows)
                 if c is not None)
    if cvs:
        lines.append(f"Noise: coefficient of variation of the repetitions, median "
                     f"{100 * cvs[len(cvs) // 2]:.0f}%, worst {100 * cvs[-1]:.0f}%: every "
                     "cycle hands work to a worker thread, so the figures carry the machine's "
                     "thread wake-up latency (large and bimodal on an idle virtual machine). "
                     "Trust the order of magnitude of the ratios, not their digits.")
        lines.append("")
    lines.append("### Cross-stream reuse (hand-off: written on A, read on B after an event, "
                 "released on B, next acquisition on A)")
    lines.append("")
    hv = ["pinpool_device", "pinpool_pinned", "malloc_sync_free"]
    rows = []
    for b in (64 << 10, 8 << 20):
        v = {x: stream.ns(f"handoff/{x}", bytes=b, threads=1) for x in hv}
        waits = stream.counter("stream_waits_per_op", "handoff/pinpool_device", bytes=b, threads=1)
        mib_d = stream.counter("mib_reserved", "handoff/pinpool_device", bytes=b, threads=1)
        mib_p = stream.counter("mib_reserved", "handoff/pinpool_pinned", bytes=b, threads=1)
        rows.append([human_bytes(b)] + [fmt_ns(v[x]) for x in hv] +
                    [fmt_ratio(ratio(v["malloc_sync_free"], v["pinpool_device"])),
                     fmt_ratio(ratio(v["malloc_sync_free"], v["pinpool_pinned"])),
                     "–" if waits is None else f"{waits:.2f}",
                     f"{mib_d or 0:.0f} / {mib_p or 0:.0f}"])
    lines.append(table(["size"] + [f"{x} ns" for x in hv] +
                       ["malloc_sync_free/device", "malloc_sync_free/pinned",
                        "device: stream waits per op", "MiB reserved device / pinned"], rows))
    lines.append("")
    fv = ["pinpool_at_cap", "pinpool_always"]
    f = {x: stream.ns(f"frames/{x}", threads=1) for x in fv}
    if all(f.values()):
        lines.append("### Frames on 4 streams with 1 ms of work each (`pending_reuse` policies)")
        lines.append("")
        frows = [[x, fmt_ns(f[x]),
                  f"{stream.counter('stream_waits_per_op', f'frames/{x}', threads=1) or 0:.2f}",
                  f"{stream.counter('mib_reserved', f'frames/{x}', threads=1) or 0:.0f}"]
                 for x in fv]
        lines.append(table(["policy", "ns per frame", "stream waits per frame", "MiB reserved"],
                           frows))
        lines.append("")
        lines.append(f"`at_cap` (the default) is {fmt_ratio(ratio(f['pinpool_always'], f['pinpool_at_cap']))} "
                     "the frame rate of `always`: below the cap the pool grows instead of making "
                     "a stream wait for another stream's frame.")
        lines.append("")
    if charts:
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True)
        for ax, b in zip(axes, (64 << 10, 8 << 20)):
            for x in variants:
                ys = series.get((b, x), [])
                pts = [(i + 1, y) for i, y in enumerate(ys) if y is not None]
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=x)
            ax.set_yscale("log")
            ax.set_xticks([1, 2, 3, 4])
            ax.set_xlabel("streams")
            ax.set_title(f"{human_bytes(b)} chunks")
            ax.grid(True, which="both", alpha=0.3)
        axes[0].set_ylabel("ns per cycle (median, log)")
        axes[0].legend(fontsize=8)
        fig.suptitle("Stream-ordered cycle vs synchronise-then-free (CPU backend)")
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "stream_cycle.png"), dpi=110)
        plt.close(fig)
        lines.append("![stream cycle](stream_cycle.png)")
        lines.append("")
    return "\n".join(lines)


def section_memory(memory, out_dir, charts):
    if not memory.ok:
        return "## Suite 5: memory\n\nNot run.\n"
    lines = ["## Suite 5: memory", "",
             "### Rounding waste: extra bytes / requested bytes over each mix (worst single "
             "request in parentheses)", ""]
    schemes = ["pinpool", "pow2", "pow8"]
    found = {fam.split("/")[1] for fam, _ in memory.rows if fam.startswith("waste/")}
    mixes = [m for m in MIX_ORDER if m in found] + sorted(found - set(MIX_ORDER))
    rows, values = [], {}
    for mix in mixes:
        row = [mix, f"{memory.counter('requests', f'waste/{mix}/pinpool', threads=1) or 0:,.0f}"]
        for sc in schemes:
            w = memory.counter("waste_pct", f"waste/{mix}/{sc}", threads=1)
            mx = memory.counter("max_waste_pct", f"waste/{mix}/{sc}", threads=1)
            values[(mix, sc)] = w
            row.append("–" if w is None else f"{w:.2f}% ({mx:.1f}%)")
        per = memory.counter("items_per_second", f"waste/{mix}/pinpool", threads=1)
        row.append("–" if not per else f"{1e9 / per:.2f}")
        rows.append(row)
    lines.append(table(["mix", "requests", "pinpool (8 per doubling)", "pow2", "pow8 (CUB default)",
                        "pinpool lookup ns/request"], rows))
    lines.append("")
    lines.append("pinpool's classes are multiples of 256 B up to 2 KiB, so requests below 2 KiB "
                 "waste less than 256 B each but can waste a large share of a tiny request "
                 "(the `small_1B_2KiB` and `log_uniform_256B_64MiB` mixes); the 12.5% bound "
                 "holds from 2 KiB up.")
    lines.append("")
    st = {k: memory.counter(k, "bookkeeping/static", threads=1)
          for k in ("sizeof_chunk", "sizeof_list_links", "sizeof_chunk_list",
                    "reserved_vector_bytes", "slab_index_bytes", "sizeof_slab_record",
                    "sizeof_class_state")}
    lines.append("### Bookkeeping (host memory; chunk metadata never lives in chunk memory)")
    lines.append("")
    rows = [["sizeof(detail::chunk) (incl. 16 B of intrusive list links)",
             f"{st['sizeof_chunk']:.0f} B"],
            ["heap reserved per chunk record (2 stream_refs + 2 event slots)",
             f"{st['reserved_vector_bytes']:.0f} B (+ malloc headers)"],
            ["slab_record::chunks entry", f"{st['slab_index_bytes']:.0f} B"],
            ["sizeof(chunk_list) (per class, two per class)", f"{st['sizeof_chunk_list']:.0f} B"],
            ["sizeof(slab_record)", f"{st['sizeof_slab_record']:.0f} B"],
            ["sizeof(class_state)", f"{st['sizeof_class_state']:.0f} B"]]
    for b in (256, 64 << 10):
        per = memory.counter("heap_bytes_per_chunk", "bookkeeping/measured", bytes=b, threads=1)
        pct = memory.counter("overhead_pct_of_chunk", "bookkeeping/measured", bytes=b, threads=1)
        if per is not None:
            rows.append([f"measured heap growth per carved {human_bytes(b)} chunk (mallinfo2)",
                         f"{per:.0f} B ({pct:.2f}% of the chunk)"])
    per_pool = memory.counter("heap_bytes_per_pool", "bookkeeping/measured", bytes=256, threads=1)
    classes = memory.counter("size_classes", "bookkeeping/measured", bytes=256, threads=1)
    if per_pool is not None:
        rows.append([f"fixed heap per pool (mostly {classes:.0f} size classes x class_state)",
                     f"{per_pool:,.0f} B"])
    lines.append(table(["item", "bytes"], rows))
    lines.append("")
    if charts and mixes:
        bar_chart(os.path.join(out_dir, "waste.png"),
                  "Rounding waste by size mix (extra / requested bytes, log scale)",
                  mixes, schemes, values, "waste %")
        lines.append("![waste](waste.png)")
        lines.append("")
    return "\n".join(lines)


def section_gpu(out_dir, gpu):
    lines = ["## Suite 4: GPU", ""]
    skipped = os.path.join(out_dir, "gpu_skipped.txt")
    if not gpu.ok:
        why = open(skipped).read().strip() if os.path.exists(skipped) else "not run"
        lines.append(f"Not measured on this machine: `{why}`. The suite is built whenever "
                     "PINPOOL_CUDA is ON; run `bench/run --suites gpu` on a machine with a GPU.")
        lines.append("")
        return "\n".join(lines)
    lines.append(f"GPU: {gpu.context.get('gpu', '?')}. Median ns per allocation + release.")
    lines.append("")
    peers = ["pinpool_device", "cudaMalloc", "cudaMallocAsync", "cub_caching", "pinpool_pinned",
             "cudaMallocHost"]
    rows = []
    for s in SIZES:
        v = {p: gpu.ns(f"gpu/{p}", bytes=s, threads=1) for p in peers}
        rows.append([human_bytes(s)] + [fmt_ns(v[p]) for p in peers] +
                    [fmt_ratio(ratio(v[p], v["pinpool_device"]))
                     for p in ("cudaMalloc", "cudaMallocAsync", "cub_caching")] +
                    [fmt_ratio(ratio(v["cudaMallocHost"], v["pinpool_pinned"]))])
    lines.append(table(["size"] + peers + ["cudaMalloc/pinpool", "cudaMallocAsync/pinpool",
                                           "cub/pinpool", "cudaMallocHost/pinpool_pinned"], rows))
    lines.append("")
    rows = []
    for b in (1 << 20, 8 << 20, 64 << 20):
        lim = gpu.counter("bytes_per_second", "copy/limit", bytes=b, threads=1)
        pipe = gpu.counter("bytes_per_second", "copy/pinpool_pipeline", bytes=b, threads=1)
        rows.append([human_bytes(b), "–" if lim is None else f"{lim / 1e9:.2f}",
                     "–" if pipe is None else f"{pipe / 1e9:.2f}",
                     "–" if not lim or pipe is None else f"{100 * pipe / lim:.0f}%"])
    lines.append(table(["frame", "copy-engine limit GB/s", "pinpool pipeline GB/s",
                        "pipeline / limit"], rows))
    lines.append("")
    return "\n".join(lines)


def section_pipeline(d):
    """Suite 3: pipeline frames/s pooled vs per-frame allocation; CPU kernels vs OpenCV."""
    pipe = Results(os.path.join(d, "pipeline.json"))
    kern = Results(os.path.join(d, "kernels.json"))
    lines = ["## Suite 3: sample pipeline", ""]
    if not pipe.ok:
        return "\n".join(lines + ["Not run (`bench/run --suites pipeline`).", ""])
    lines += ["The sample's orchestration (`pinpool_pipeline`, CPU backend, synthetic frames, "
              "PNG encoding skipped) with its pools, against the same pipeline with "
              "`--per-frame-allocation`: every buffer its own backend allocation, freed after "
              "its frame, with a host synchronisation per frame. Median of 3 runs; 16 frames "
              "(8 at 4K).", ""]
    rows = []
    for w, h in ((1280, 720), (1920, 1080), (3840, 2160)):
        for streams in (1, 2, 4):
            args = dict(width=w, height=h, streams=streams, threads=1)
            pooled = pipe.counter("frames_per_second", "pipeline_case/pooled", **args)
            naive = pipe.counter("frames_per_second", "pipeline_case/per_frame_allocation", **args)
            pa = pipe.counter("backend_allocations", "pipeline_case/pooled", **args)
            na = pipe.counter("backend_allocations", "pipeline_case/per_frame_allocation", **args)
            if pooled is None or naive is None:
                continue
            rows.append([f"{w}x{h}", str(streams), f"{pooled:.1f}", f"{naive:.1f}",
                         fmt_ratio(pooled / naive), f"{pa:.0f} / {na:.0f}"])
    lines.append(table(["frames", "streams", "pooled frames/s", "per-frame frames/s",
                        "pooled / per-frame", "backend allocations (pooled / per-frame)"], rows))
    lines.append("")
    ocv_path = os.path.join(d, "opencv.json")
    if kern.ok and os.path.exists(ocv_path):
        with open(ocv_path) as f:
            ocv = json.load(f)
        lines += [f"CPU kernels against OpenCV {ocv.get('opencv_version', '?')} "
                  f"({ocv.get('threads', '?')} threads; Debian's python3-opencv, timed in "
                  "`bench/opencv_kernels.py`) on the same sizes of noise frames. Median ms; "
                  "ratio = OpenCV time / pinpool time (> 1: pinpool faster). OpenCV's sobel is "
                  "the composite Sobel dx, Sobel dy, |gx|+|gy| of the same semantics.", ""]
        rows = []
        for op in ("gray", "blur", "sobel", "equalize"):
            for w, h in ((1280, 720), (1920, 1080), (3840, 2160)):
                ns = kern.ns(f"kernel_case/{op}", width=w, height=h, threads=1)
                cv_ms = ocv.get(op, {}).get(f"{w}x{h}")
                if ns is None or cv_ms is None:
                    continue
                ms = ns / 1e6
                rows.append([op, f"{w}x{h}", f"{ms:.2f}", f"{cv_ms:.2f}", fmt_ratio(cv_ms / ms)])
        lines.append(table(["kernel", "frame", "pinpool ms", "OpenCV ms", "OpenCV / pinpool"],
                           rows))
        lines.append("")
    return "\n".join(lines)


def section_e2e(d):
    """Suite e2e's section as bench/e2e.py wrote it (e2e.md), or a line saying it did not run."""
    path = os.path.join(d, "e2e.md")
    if not os.path.exists(path):
        return "## Suite e2e: the pipeline end to end against an OpenCV script\n\nNot run.\n"
    return open(path).read()


# ---- suite rmm: pinpool and RMM on the emulated runtime --------------------------------------------------

RMM_BEGIN = "<!-- suite rmm: begin (bench/plot.py rmm-section rewrites only this part) -->"
RMM_END = "<!-- suite rmm: end -->"
RMM_WORKLOADS = [
    ("same_stream_256", "same-stream round trip, 256 B"),
    ("same_stream_65536", "same-stream round trip, 64 KiB"),
    ("same_stream_8388608", "same-stream round trip, 8 MiB"),
    ("cross_stream", "cross-stream hand-off (A then B), 64 KiB"),
    ("pinned_staging", "pinned staging: host acquire, copy on s, release on s, 1 MiB"),
    ("pipeline_1streams", "sample pipeline, 1 stream (per frame)"),
    ("pipeline_4streams", "sample pipeline, 4 streams (per frame)"),
    ("fragmentation", "mixed sizes, frees out of order (per op)"),
]


def fmt_calls(v):
    return f"{v:g}" if v == int(v) else f"{v:.2f}"


def calls_text(calls):
    if not calls:
        return "none"
    return ", ".join(f"{k[4:] if k.startswith('cuda') else k} {fmt_calls(v)}"
                     for k, v in sorted(calls.items(), key=lambda kv: -kv[1]))


def blocking(calls):
    """Calls that block the host: stream, event and device synchronisation."""
    return sum(v for k, v in calls.items()
               if k in ("cudaStreamSynchronize", "cudaEventSynchronize", "cudaDeviceSynchronize"))


def rmm_calls_chart(path, rows):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(10, 5.5))
    labels = [w for w, _ in rows]
    width = 0.4
    for i, peer in enumerate(("pinpool", "rmm_pool")):
        ys = [r.get(peer, 0) for _, r in rows]
        ax.bar([x + i * width for x in range(len(rows))], ys, width,
               label="pinpool" if peer == "pinpool" else "RMM pool_memory_resource")
    ax.set_xticks([x + width / 2 for x in range(len(rows))])
    ax.set_xticklabels(labels, rotation=15, fontsize=8)
    ax.set_ylabel("runtime calls per operation (per frame for the pipeline)")
    ax.set_yscale("log")
    ax.set_title("Runtime calls per operation on the emulated CUDA runtime (fewer is better)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def section_rmm(d, charts):
    """The RMM section, from DIR/rmm.json (or DIR/rmm_skipped.txt) alone, between markers."""
    path = os.path.join(d, "rmm.json")
    head = [RMM_BEGIN, "## Measured against RMM on the same runtime", ""]
    skipped = os.path.join(d, "rmm_skipped.txt")
    if not os.path.exists(path):
        why = open(skipped).read().strip() if os.path.exists(skipped) else "suite rmm not run"
        return "\n".join(head + [f"Not measured: {why}.", "", RMM_END, ""])
    with open(path) as f:
        data = json.load(f)
    res = {}
    for r in data["results"]:
        res[(r["workload"], r["peer"])] = r
    out = head + [
        f"`bench/run --suites rmm` ({data.get('date_utc', '?')}, {data.get('compiler', '?')}): "
        "pinpool and RAPIDS RMM "
        f"{data.get('rmm_version', '26.10')} (`librmm-cu13` from PyPI) in one process on "
        "pinpool's CPU emulation of the CUDA runtime (`tests/emulation`, linked instead of "
        "libcudart), so every runtime call either pool makes is counted exactly, by entry point. "
        "pinpool: a device pool (and a pinned pool for staging) on the CUDA backend, "
        "`first_slab_bytes = 2 MiB` (slabs grow geometrically from 2 MiB; the default is whole "
        "64 MiB slabs). RMM: "
        "`pool_memory_resource` (its stream-ordered code is header code calling the runtime from "
        "the benchmark's translation unit) over an upstream resource on the emulated "
        "`cudaMalloc`/`cudaFree` (`cudaHostAlloc`/`cudaFreeHost` for the pinned pool), "
        "`initial_pool_size = 0`. Same streams (non-blocking), same operations, after 64 "
        f"warm-up operations; {data.get('iterations', '?')} counted operations per loop. Raw data: "
        "`rmm.json`. On a GPU each of these calls costs roughly a microsecond of host time and "
        "takes driver locks; the emulation's own cost is not what is measured.",
        "",
        "RMM has no host acquisition: for host use (pinned staging, the pipeline's decode "
        "buffer) it allocates on the default stream and then synchronises the default stream, "
        "because a block RMM takes from another stream is ordered only device-side "
        "(`cudaStreamWaitEvent`). A host release is a release on the default stream.",
        "",
        "### Runtime calls per operation",
        "",
    ]
    rows, chart_rows, rmm_ahead, pp_ahead = [], [], [], []
    for key, label in RMM_WORKLOADS:
        p, r = res.get((key, "pinpool")), res.get((key, "rmm_pool"))
        if not p or not r:
            continue
        pt, rt = p["calls_per_op_total"], r["calls_per_op_total"]
        nc = res.get((key, "pinpool_nocapture"))
        rows.append([label, fmt_calls(pt), fmt_calls(nc["calls_per_op_total"]) if nc else "–",
                     fmt_calls(rt), calls_text(p["calls_per_op"]), calls_text(r["calls_per_op"])])
        chart_rows.append((key, {"pinpool": pt, "rmm_pool": rt}))
        if rt < pt:
            rmm_ahead.append(f"{label} ({fmt_calls(rt)} calls against pinpool's {fmt_calls(pt)})")
        elif pt < rt:
            pp_ahead.append(f"{label} ({fmt_calls(pt)} against {fmt_calls(rt)})")
        pb, rb = blocking(p["calls_per_op"]), blocking(r["calls_per_op"])
        if pb < rb:
            pp_ahead.append(f"{label}: host-blocking calls {fmt_calls(pb)} against RMM's "
                            f"{fmt_calls(rb)}")
        elif rb < pb:
            rmm_ahead.append(f"{label}: host-blocking calls {fmt_calls(rb)} against pinpool's "
                             f"{fmt_calls(pb)}")
    out += [table(["workload", "pinpool calls", "pinpool, detect_capture off", "RMM calls",
                   "pinpool by entry point", "RMM by entry point"], rows), "",
            "pinpool's default asks `cudaStreamIsCapturing` at each acquisition and release on a "
            "stream (graph safety, docs/design.md); `pool_options::detect_capture = false` drops "
            "those checks, as RMM makes none.", ""]
    if rows and charts:
        rmm_calls_chart(os.path.join(d, "rmm_calls.png"), chart_rows)
        out += ["![runtime calls per operation](rmm_calls.png)", ""]
    notes = sorted({r["note"] for r in data["results"]
                    if r.get("note") and r["peer"] in ("pinpool", "rmm_pool")})
    if notes:
        out += ["Notes: " + "; ".join(f"{n}" for n in notes) + ".", ""]

    out += ["### Peak bytes reserved against peak bytes live (traces)", ""]
    prow = []
    for key, label in RMM_WORKLOADS:
        for peer in ("pinpool", "pinpool_bounded", "pinpool_eager_events",
                     "pinpool_wait_before_growing", "rmm_pool", "rmm_arena", "rmm_binning"):
            r = res.get((key, peer))
            if not r:
                continue
            if r.get("error"):
                prow.append([label, peer, "–", "–", "–", r["error"]])
            elif "peak_reserved" in r:
                prow.append([label, peer, human_mib(r["peak_live"]), human_mib(r["peak_reserved"]),
                             fmt_ratio(ratio(r["peak_reserved"], r["peak_live"])),
                             f"{fmt_calls(r['calls_per_op_total'])}: {calls_text(r['calls_per_op'])}"])
    out += [table(["trace", "allocator", "peak live", "peak reserved", "reserved/live",
                   "runtime calls per op"], prow), "",
            "pinpool_bounded: `pool_options::max_pending_bytes = 4 MiB` (the host waits for the "
            "oldest pending copy, `cudaEventSynchronize`, instead of growing past 4 MiB pending); "
            "pinpool_eager_events: `lazy_release = false`; pinpool_wait_before_growing: "
            "`pending_reuse = always`.", ""]
    for key, label in RMM_WORKLOADS:
        p, r = res.get((key, "pinpool")), res.get((key, "rmm_pool"))
        if p and r and "peak_reserved" in p and "peak_reserved" in r:
            if r["peak_reserved"] < p["peak_reserved"]:
                rmm_ahead.append(f"{label}: peak reserved {human_mib(r['peak_reserved'])} against "
                                 f"pinpool's {human_mib(p['peak_reserved'])}")
            elif p["peak_reserved"] < r["peak_reserved"]:
                pp_ahead.append(f"{label}: peak reserved {human_mib(p['peak_reserved'])} against "
                                f"{human_mib(r['peak_reserved'])}")
    out += ["Peak live is the sum of the requested sizes alive at once (the same for every "
            "allocator). Peak reserved: pinpool's `bytes_reserved` after the trace (pinpool "
            "returns no slab without `trim()`, so that is its peak; reading its stats during the "
            "trace would query events and change the counts), RMM's `pool_size()` after every "
            "operation, arena/binning: bytes held from the upstream after every operation. The "
            "pipeline's figures add the device and the pinned pool.", ""]

    ins = data.get("instructions", {})
    irows, by = [], {}
    for r in ins.get("rows", []):
        by[(r["bytes"], r["peer"])] = r["ir_per_round_trip"]
    for b in sorted({k[0] for k in by}):
        p, r = by.get((b, "pinpool")), by.get((b, "rmm_pool"))
        nc = by.get((b, "pinpool_nocapture"))
        irows.append([human_bytes(b), f"{p:.0f}" if p and p > 0 else "–",
                      f"{nc:.0f}" if nc and nc > 0 else "–",
                      f"{r:.0f}" if r and r > 0 else "–", fmt_ratio(ratio(p, r))])
        if p and r and p > 0 and r > 0:
            if r < p:
                rmm_ahead.append(f"host instructions per same-stream round trip at "
                                 f"{human_bytes(b)} ({r:.0f} Ir against pinpool's {p:.0f})")
            elif p < r:
                pp_ahead.append(f"host instructions per same-stream round trip at "
                                f"{human_bytes(b)} ({p:.0f} Ir against RMM's {r:.0f})")
    out += ["### Host instructions per same-stream round trip (callgrind)", ""]
    if irows:
        out += [table(["size", "pinpool Ir", "pinpool Ir, detect_capture off", "RMM pool Ir",
                       "pinpool / RMM"], irows), "",
                "Counted with `valgrind --tool=callgrind --collect-systime=no "
                "--toggle-collect=pinpool_bench_rmm_loop` plus one `--toggle-collect=<entry "
                "point>` per emulated runtime entry point (cudaEventRecord, cudaStreamGetId, "
                "cudaStreamIsCapturing, cudaGetDevice, ...): collection is on only inside the "
                "measured loop and switched off again inside every call into the emulation, so "
                "the figure is the pool's own code (its locks, its allocations, the call into "
                "the runtime) and none of the emulation's internals. The loop calls each pool "
                "directly (`pool.acquire(bytes, s)` with the buffer released on `s`; "
                "`allocate(s)`/`deallocate(s)`), 20000 round trips after 64 uncounted ones. "
                "Ir / round trips.", ""]
    else:
        out += ["Not measured (valgrind not found).", ""]

    missing = [f"{r['peer']} on {r['workload']}: {r['error']}" for r in data["results"]
               if r.get("error")]
    other = [f"{r['peer']} on {r['workload']}: {r['note']}" for r in data["results"]
             if r.get("note") and not r["peer"].startswith("pinpool") and r["peer"] != "rmm_pool"]
    out += ["### Where RMM is ahead", ""]
    out += [f"- {x}" for x in rmm_ahead] if rmm_ahead else ["- nowhere in this run"]
    out += ["", "Where pinpool is ahead:", ""]
    out += [f"- {x}" for x in pp_ahead] if pp_ahead else ["- nowhere in this run"]
    out += ["", "What did not run or is counted only in part:", ""]
    out += [f"- {x}" for x in missing + other] if missing + other else ["- nothing"]
    out += ["", RMM_END, ""]
    return "\n".join(out)


def human_mib(n):
    return f"{n / (1 << 20):.1f} MiB"


def rewrite_section(d, name, text, begin, end):
    """Inserts or replaces only the section `text` (between the markers `begin` and `end`) of
    DIR/RESULTS.md, the rest staying as it is: in place of the old one where both markers are
    there, else before suite 5, else at the end."""
    path = os.path.join(d, "RESULTS.md")
    old = open(path).read() if os.path.exists(path) else "# pinpool benchmark results\n\n"
    if begin in old and end in old:
        a = old.index(begin)
        b = old.index(end) + len(end)
        new = old[:a] + text.rstrip("\n") + old[b:]
    else:
        anchor = "## Suite 5: memory"
        if anchor in old:
            a = old.index(anchor)
            new = old[:a] + text + "\n" + old[a:]
        else:
            new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)
    print(f"wrote the {name} section of {path}")


def cmd_rmm_section(args):
    """Inserts or replaces only the RMM section of DIR/RESULTS.md (the rest stays as it is)."""
    rewrite_section(args.dir, "RMM", section_rmm(args.dir, charts_available()), RMM_BEGIN, RMM_END)

# ---- suite slab: pinned slab creation ----------------------------------------------------------------

SLAB_BEGIN = "<!-- suite slab: begin (bench/plot.py slab-section rewrites only this part) -->"
SLAB_END = "<!-- suite slab: end -->"
SLAB_VARIANTS = [
    ("mmap_touch_mlock", "mmap, touch on 1 thread, mlock (before: the CPU backend's path)"),
    ("slab_4k_1t", "pinned_slab, 4 KiB pages, 1 thread"),
    ("slab_4k_2t", "pinned_slab, 4 KiB pages, 2 threads"),
    ("slab_4k_4t", "pinned_slab, 4 KiB pages, 4 threads"),
    ("slab_1t", "pinned_slab, huge pages, 1 thread"),
    ("slab_2t", "pinned_slab, huge pages, 2 threads"),
    ("slab_4t", "pinned_slab, huge pages, 4 threads (the default from 64 MiB)"),
    ("cuda_host_alloc", "cudaHostAlloc (GPU machines only)"),
    ("register_1t", "pinned_slab + cudaHostRegister, 1 thread (GPU machines only)"),
    ("register_4t", "pinned_slab + cudaHostRegister, 4 threads: the CUDA backend's default"),
    ("memcpy", "memcpy between touched buffers (bytes copied / s)"),
    ("memset", "memset of a touched buffer (bytes written / s)"),
]


def section_slab(d):
    """The slab section, from DIR/slab.json alone, between markers."""
    path = os.path.join(d, "slab.json")
    out = [SLAB_BEGIN, "## Suite slab: pinned slab creation", ""]
    if not os.path.exists(path):
        return "\n".join(out + ["Not run (`bench/run --suites slab`).", "", SLAB_END, ""])
    with open(path) as f:
        data = json.load(f)
    res = {(r["variant"], r["bytes"]): r for r in data["results"]}
    sizes = sorted({r["bytes"] for r in data["results"]})
    memlock = data.get("rlimit_memlock_bytes", -1)
    out += [
        f"`bench/run --suites slab` (`pinpool-bench-slab`, {data.get('repetitions', '?')} "
        "interleaved repetitions after a warm-up round, medians): GB/s of slab created, from "
        "nothing to every page backed and locked, the unmapping not timed. `pinned_slab` is "
        "src/pinned_slab.cpp as both backends call it (2 MiB-aligned mapping, "
        "`madvise(MADV_HUGEPAGE)` unless \"4 KiB pages\", `mbind`, first touch on N threads, "
        "`mlock`, node read back); the CUDA backend registers (`cudaHostRegister`) where this "
        "`mlock`s, which is not timed here. memcpy and memset are one thread on the same "
        "machine in the same run: the bandwidth the kernel's page zeroing competes with. "
        "\"huge pages\": the share of the slab that transparent huge pages backed "
        "(`thp_fault_alloc` of /proc/vmstat over the variant's repetitions x 2 MiB / bytes; "
        "other processes' faults count too). The speed-ups below are ratios of medians (in "
        "parentheses: of the fastest repetitions; far apart where the run was bimodal). "
        "Variants run in a random order per round: in a fixed order the variant that always "
        "followed a 1 GiB slab of 4 KiB pages being unmapped was 5-10x slower in every run.",
        "",
        f"Machine: {data.get('hardware_threads', '?')} hardware threads, transparent huge pages "
        f"`{data.get('thp', '?')}`, NUMA nodes online `{data.get('numa_nodes_online', '?')}`, "
        f"RLIMIT_MEMLOCK {'unlimited' if memlock < 0 else human_bytes(int(memlock))}; load "
        f"average before `{data.get('loadavg_before', '?')}`, after "
        f"`{data.get('loadavg_after', '?')}` (the first three figures: 1, 5, 15 minutes).",
        "",
    ]
    header = (["variant"] + [f"{human_bytes(b)}: GB/s (median ms, best GB/s, huge pages)"
                             for b in sizes] + ["locked"])
    rows = []
    for key, label in SLAB_VARIANTS:
        if not any((key, b) in res for b in sizes):
            continue  # the CUDA variants without a GPU
        cells, locked = [], "-"
        for b in sizes:
            r = res.get((key, b))
            huge = "" if key.startswith("mem") or r is None else \
                f", {100 * r.get('huge_page_fraction', 0):.0f}%"
            best = f", best {r['bytes'] / r['min_s'] / 1e9:.2f}" if r else ""
            cells.append(f"{r['gb_per_s']:.2f} ({r['median_s'] * 1e3:.1f} ms{best}{huge})"
                         if r else "-")
            if r and not key.startswith("mem"):
                locked = "yes" if r["locked"] else "no"
        rows.append([f"{label}"] + cells + [locked])
    out += [table(header, rows), ""]
    ratio_rows = []
    for b in sizes:
        base, best = res.get(("mmap_touch_mlock", b)), res.get(("slab_4t", b))
        one, cp = res.get(("slab_1t", b)), res.get(("memcpy", b))
        four_k1, four_k4 = res.get(("slab_4k_1t", b)), res.get(("slab_4k_4t", b))
        if not (base and best and one and cp):
            continue
        ratio_rows.append([
            human_bytes(b),
            f"{fmt_ratio(base['median_s'] / best['median_s'])} "
            f"(bests: {fmt_ratio(base['min_s'] / best['min_s'])})",
            f"{fmt_ratio(one['median_s'] / best['median_s'])} "
            f"(bests: {fmt_ratio(one['min_s'] / best['min_s'])})",
            fmt_ratio(four_k1["median_s"] / four_k4["median_s"]) if four_k1 and four_k4 else "-",
            f"{best['gb_per_s'] / cp['gb_per_s']:.2f}",
        ])
    if ratio_rows:
        out += [table(["slab", "speed-up over the old path", "4 threads over 1 (huge pages)",
                       "4 threads over 1 (4 KiB)", "default slab GB/s / memcpy GB/s"],
                      ratio_rows), ""]
    out += [SLAB_END, ""]
    return "\n".join(out)


def cmd_slab_section(args):
    """Inserts or replaces only the slab section of DIR/RESULTS.md (the rest stays as it is)."""
    rewrite_section(args.dir, "slab", section_slab(args.dir), SLAB_BEGIN, SLAB_END)


def cmd_report(args):
    d = args.dir
    machine = {}
    if os.path.exists(os.path.join(d, "machine.json")):
        with open(os.path.join(d, "machine.json")) as f:
            machine = json.load(f)
    hot = Results(os.path.join(d, "hot.json"))
    stream = Results(os.path.join(d, "stream.json"))
    memory = Results(os.path.join(d, "memory.json"))
    gpu = Results(os.path.join(d, "gpu.json"))
    charts = charts_available()

    hot_text, hot_facts = section_hot(hot, d, charts)
    parts = [
        "# pinpool benchmark results",
        "",
        f"Generated by `bench/run` on {machine.get('date_utc', '?')} "
        f"({machine.get('repetitions', '?')} repetitions of at least "
        f"{machine.get('min_time_s', '?')} s each, randomly interleaved, 5 for the memory "
        "suite whose figures are exact counters; every time is the median of the "
        "repetitions). Raw data: `hot.json`, `stream.json`, `memory.json` "
        "(Google Benchmark JSON with every repetition), `profile.txt`.",
        "",
        "Read the ratios, not the absolute times: every ratio compares two figures measured "
        "side by side in the same run on the same (shared, virtualised) machine.",
        "",
        "Method: every peer touches the first and the last byte of its block (no allocation "
        "can be elided, fresh pages fault in). Times are wall-clock (`UseRealTime`). "
        "mimalloc and jemalloc are Debian's shared libraries loaded with `dlopen(RTLD_LOCAL)` "
        "and called through `mi_malloc`/`mi_free` and `mallocx`/`dallocx`: Debian builds "
        "export `malloc`/`free` too, so linking them would have replaced glibc malloc for "
        "every other peer and for pinpool itself. The library under test and the benchmarks "
        "are a CMake Release build; Google Benchmark's banner \"Library was built as DEBUG\" "
        "refers to Debian's libbenchmark package itself.",
        "",
        section_machine(machine, [("hot", hot), ("stream", stream), ("memory", memory)]),
        section_targets(hot_facts, memory),
        hot_text,
        section_stream(stream, d, charts),
        section_pipeline(d),
        section_e2e(d),
        section_gpu(d, gpu),
        section_rmm(d, charts),
        section_slab(d),
        section_memory(memory, d, charts),
    ]
    prof = os.path.join(d, "profile.txt")
    if os.path.exists(prof):
        parts += ["## Profile of the hot path (callgrind)", "",
                  "Instructions (Ir) per round trip executed by the calling thread "
                  "(`valgrind --tool=callgrind --toggle-collect=pinpool_bench_profiled_loop "
                  "build/bench/bench/pinpool-bench-profile <peer> <bytes> 100000`), then the "
                  "functions that cost them for the 64 KiB round trip.", "",
                  "```", open(prof).read().rstrip(), "```", ""]
    if not charts:
        parts += ["(matplotlib not available: no charts)", ""]
    with open(os.path.join(d, "RESULTS.md"), "w") as f:
        f.write("\n".join(parts))
    print(f"wrote {os.path.join(d, 'RESULTS.md')}" + (" and charts" if charts else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("machine", help="describe the machine into a JSON file")
    m.add_argument("out")
    m.add_argument("--compiler", default="c++")
    m.add_argument("--repetitions", type=int, default=0)
    m.add_argument("--min-time", type=float, default=0)
    m.add_argument("--cuda", default="?")
    r = sub.add_parser("report", help="write RESULTS.md and charts for a results directory")
    r.add_argument("dir")
    x = sub.add_parser("rmm-section",
                       help="insert or replace only the RMM section of DIR/RESULTS.md (rmm.json)")
    x.add_argument("dir")
    y = sub.add_parser("slab-section",
                       help="insert or replace only the slab section of DIR/RESULTS.md (slab.json)")
    y.add_argument("dir")
    args = ap.parse_args()
    if args.cmd == "machine":
        cmd_machine(args)
    elif args.cmd == "rmm-section":
        cmd_rmm_section(args)
    elif args.cmd == "slab-section":
        cmd_slab_section(args)
    else:
        cmd_report(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
