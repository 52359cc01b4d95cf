#!/usr/bin/env python3
"""Render a Chrome/Perfetto trace (pinpool-trace's JSON) to a PNG timeline.

One row per thread (named by its thread_name metadata), ranges as bars coloured by name and
stacked by nesting depth, marks as triangles, and the counter tracks as lines in a panel below.
Reads the "traceEvents" format: X (complete) and B/E (begin/end) ranges, i/I marks, C counters,
M metadata. Needs matplotlib (Debian: python3-matplotlib).

Example:
  NVTX_INJECTION64_PATH=$PREFIX/lib/libpinpool_trace.so PINPOOL_TRACE_OUT=run.json ./app
  trace_to_png.py run.json -o run.png
"""

import argparse
import json
import os
import sys
import zlib
from collections import defaultdict

DEBIAN_PYTHON = "/usr/bin/python3"


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="trace_to_png",
        description="Render a Chrome/Perfetto trace JSON (e.g. from libpinpool_trace.so) "
        "to a PNG timeline: one row per thread, ranges as bars coloured by name, marks as "
        "triangles, counters (bytes in use per NVTX domain/heap) as lines below.",
        epilog="Needs matplotlib (Debian: apt-get install python3-matplotlib).",
    )
    p.add_argument("trace", help="trace JSON ({\"traceEvents\": [...]} or a bare event list)")
    p.add_argument("-o", "--output", help="PNG to write (default: the trace's name with .png)")
    p.add_argument("--title", help="figure title (default: the process name)")
    p.add_argument("--start", type=float, metavar="MS", help="show from this time (ms)")
    p.add_argument("--end", type=float, metavar="MS", help="show up to this time (ms)")
    p.add_argument("--width", type=float, default=16.0, help="figure width in inches (16)")
    p.add_argument("--dpi", type=int, default=110, help="resolution (110)")
    p.add_argument("--legend", type=int, default=16, metavar="N",
                   help="name the N range names with most total time in the legend (16)")
    p.add_argument("--no-counters", action="store_true", help="leave out the counter panel")
    return p.parse_args(argv)


def import_pyplot():
    """matplotlib.pyplot with the Agg backend; re-runs under Debian's python3 if needed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        if (os.path.exists(DEBIAN_PYTHON) and os.path.realpath(sys.executable)
                != os.path.realpath(DEBIAN_PYTHON) and not os.environ.get("TRACE_TO_PNG_REEXEC")):
            os.environ["TRACE_TO_PNG_REEXEC"] = "1"
            os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
        sys.exit("trace_to_png: needs matplotlib (Debian: apt-get install python3-matplotlib)")


class Trace:
    """The events of a trace, grouped for drawing. Times in milliseconds."""

    def __init__(self, doc):
        events = doc.get("traceEvents", []) if isinstance(doc, dict) else doc
        self.process_name = ""
        self.thread_names = {}  # (pid, tid) -> name
        self.sort_index = {}  # (pid, tid) -> index
        self.ranges = defaultdict(list)  # (pid, tid) -> [(start, end, name)]
        self.marks = defaultdict(list)  # (pid, tid) -> [(t, name)]
        self.counters = defaultdict(list)  # series name -> [(t, value)]
        open_begins = defaultdict(list)
        for e in events:
            ph = e.get("ph")
            key = (e.get("pid", 0), e.get("tid", 0))
            ts = float(e.get("ts", 0)) / 1000.0
            name = str(e.get("name", ""))
            if ph == "X":
                self.ranges[key].append((ts, ts + float(e.get("dur", 0)) / 1000.0, name))
            elif ph == "B":
                open_begins[key].append((ts, name))
            elif ph == "E" and open_begins[key]:
                start, begin_name = open_begins[key].pop()
                self.ranges[key].append((start, ts, begin_name))
            elif ph in ("i", "I"):
                self.marks[key].append((ts, name))
            elif ph == "C":
                for series, value in (e.get("args") or {}).items():
                    label = name if series == "bytes" else f"{name} {series}"
                    if isinstance(value, (int, float)):
                        self.counters[label].append((ts, float(value)))
            elif ph == "M":
                args = e.get("args") or {}
                if name == "thread_name":
                    self.thread_names[key] = str(args.get("name", ""))
                elif name == "process_name":
                    self.process_name = str(args.get("name", ""))
                elif name == "thread_sort_index":
                    self.sort_index[key] = args.get("sort_index", 0)
        for series in self.counters.values():
            series.sort()

    def rows(self):
        keys = set(self.ranges) | set(self.marks)
        return sorted(keys, key=lambda k: (self.sort_index.get(k, k[1] * 16), k))

    def row_label(self, key):
        return self.thread_names.get(key) or f"thread {key[1]}"


def with_depths(ranges):
    """[(start, end, name, depth)]: depth = how many earlier ranges of the row enclose it."""
    out = []
    stack = []  # end times of the enclosing ranges
    for start, end, name in sorted(ranges, key=lambda r: (r[0], -r[1])):
        while stack and stack[-1] <= start:
            stack.pop()
        out.append((start, end, name, len(stack)))
        stack.append(end)
    return out


def colour_of(name, palette):
    return palette[zlib.crc32(name.encode("utf-8")) % len(palette)]


def human_bytes(value, _pos=None):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value:.4g} B"


def render(trace, args, plt):
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    rows = trace.rows()
    show_counters = bool(trace.counters) and not args.no_counters
    laid_out = [with_depths(trace.ranges.get(k, [])) for k in rows]
    lanes = [max([r[3] for r in rs], default=0) + 1 for rs in laid_out]
    timeline_height = sum(0.35 * n + 0.25 for n in lanes) + 1.0
    heights = [max(timeline_height, 1.5)] + ([2.2] if show_counters else [])
    fig, axes = plt.subplots(len(heights), 1, sharex=True, squeeze=False,
                             figsize=(args.width, sum(heights) + 0.8),
                             gridspec_kw={"height_ratios": heights})
    ax = axes[0][0]
    palette = [plt.get_cmap("tab20")(i) for i in range(20)]

    totals = defaultdict(float)
    label_marks = sum(len(m) for m in trace.marks.values()) <= 40
    y = 0.0
    ticks, labels = [], []
    n_ranges = n_marks = 0
    for key, ranges, n in zip(rows, laid_out, lanes):
        lane_h = 1.0 / n
        bars = defaultdict(list)  # (depth, name) -> [(start, width)]
        for start, end, name, depth in ranges:
            bars[(depth, name)].append((start, max(end - start, 1e-6)))
            totals[name] += end - start
        for (depth, name), spans in bars.items():
            ax.broken_barh(spans, (y + depth * lane_h + 0.05 * lane_h, 0.9 * lane_h),
                           facecolors=colour_of(name, palette), edgecolor="none")
        n_ranges += len(ranges)
        marks = trace.marks.get(key, [])
        if marks:
            ax.plot([t for t, _ in marks], [y] * len(marks), "v", color="black",
                    markersize=7, clip_on=False, zorder=3)
            if label_marks:
                for t, name in marks:
                    ax.annotate(name, (t, y), xytext=(4, -2), textcoords="offset points",
                                fontsize="x-small", va="bottom")
            n_marks += len(marks)
        ticks.append(y + 0.5)
        labels.append(trace.row_label(key))
        y += 1.25
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels)
    ax.set_ylim(y - 0.15, -0.15)  # first row at the top
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(args.title or trace.process_name or os.path.basename(args.trace))
    named = sorted(totals, key=totals.get, reverse=True)[: args.legend]
    if named:
        ax.legend(handles=[Patch(color=colour_of(n, palette), label=n) for n in named],
                  loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize="small",
                  frameon=False)

    if show_counters:
        # Bytes in use on the left axis; reserved heap sizes (usually much larger) dashed, on
        # the right, so that they do not flatten the in-use lines.
        cax = axes[1][0]
        heap_tracks = {n for n in trace.counters if n.endswith("heap bytes")}
        if len(heap_tracks) == len(trace.counters):
            heap_tracks = set()
        rax = cax.twinx() if heap_tracks else None
        lines = []
        for i, (name, samples) in enumerate(sorted(trace.counters.items())):
            on = rax if name in heap_tracks else cax
            lines += on.step([t for t, _ in samples], [v for _, v in samples], where="post",
                             label=name, color=f"C{i % 10}",
                             linestyle="--" if name in heap_tracks else "-")
        for a, label in ((cax, "bytes in use"), (rax, "heap bytes")):
            if a is not None:
                a.yaxis.set_major_formatter(FuncFormatter(human_bytes))
                a.set_ylabel(label if rax is not None else "bytes")
                a.set_ylim(bottom=0)
        cax.grid(alpha=0.3)
        cax.legend(handles=lines, loc="upper left", bbox_to_anchor=(1.06 if rax else 1.005, 1.0),
                   fontsize="small", frameon=False)
    axes[-1][0].set_xlabel("time (ms)")
    if args.start is not None or args.end is not None:
        ax.set_xlim(left=args.start, right=args.end)
    fig.tight_layout()
    fig.savefig(args.output, dpi=args.dpi)
    plt.close(fig)
    return len(rows), n_ranges, n_marks, len(trace.counters) if show_counters else 0


def main(argv):
    args = parse_args(argv)
    if not args.output:
        args.output = os.path.splitext(args.trace)[0] + ".png"
    plt = import_pyplot()
    try:
        with open(args.trace, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"trace_to_png: cannot read {args.trace}: {e}")
    rows, ranges, marks, tracks = render(Trace(doc), args, plt)
    print(f"trace_to_png: wrote {args.output}: {rows} rows, {ranges} ranges, {marks} marks, "
          f"{tracks} counter tracks")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
