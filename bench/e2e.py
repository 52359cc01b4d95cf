#!/usr/bin/env python3
"""Suite e2e of bench/run: pinpool-pipeline --backend cpu against the OpenCV script a user would
write (bench/opencv_e2e.py), end to end, on the same photographs and the same outputs.

For each size (default 1920x1080 and 3840x2160) it makes 96 JPEG frames from Debian's photographs
(bench/e2e_inputs.py, cached in WORK), then:
  1. checks that both write the same images: every output decoded and compared (the maximum
     pixel difference and the number of differing frames are recorded; 0 expected);
  2. times both as whole processes (wall clock from fork to exit, interpreter start-up and
     `import cv2` included for the script, as a user sees it), repetitions interleaved
     A B A B ..., each run writing into its own emptied output folder; medians and the ratio
     script time / pinpool time (> 1: pinpool is faster);
  3. records pinpool's own summary of where the time goes (a separate run with --report).
At 1080p it also times pinpool's output settings (--png-level 0, 1, 3, 6, 9, --format jpeg and
pnm) beside the script, with the bytes written, and re-encodes the outputs with
bench/e2e_png.py (encoder settings against OpenCV's imwrite defaults).
Writes OUT/e2e.json and replaces the e2e section of OUT/RESULTS.md (between its markers)."""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BEGIN = "<!-- suite e2e: begin (bench/e2e.py rewrites only this part) -->"
END = "<!-- suite e2e: end -->"
SIZES = {"1080p": (1920, 1080), "4K": (3840, 2160)}


def load():
    return open("/proc/loadavg").read().split()[:3]


def wall(cmd, own=None):
    """Runs `cmd`; its wall time. With a list `own`, appends the seconds the script timed its
    own work ("N frames, S s" on stdout: after start-up and `import cv2`)."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"e2e.py: {' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    if own is not None:
        own.append(float(r.stdout.strip().split(", ")[-1].split()[0]))
    return dt


def fresh(d):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def dir_bytes(d):
    return sum(os.path.getsize(f) for f in glob.glob(os.path.join(d, "*")))


def compare(dir_a, dir_b, cv2, np):
    """Decodes every image of dir_a and its namesake in dir_b: (frames, max diff, differing)."""
    frames = worst = differing = 0
    for a in sorted(glob.glob(os.path.join(dir_a, "*"))):
        b = os.path.join(dir_b, os.path.basename(a))
        ia = cv2.imread(a, cv2.IMREAD_UNCHANGED)
        ib = cv2.imread(b, cv2.IMREAD_UNCHANGED)
        if ia is None or ib is None or ia.shape != ib.shape:
            sys.exit(f"e2e.py: {a} and {b} are not the same size or one is unreadable")
        d = int(np.abs(ia.astype(np.int16) - ib.astype(np.int16)).max())
        frames += 1
        worst = max(worst, d)
        differing += d > 0
    return frames, worst, differing


def pinpool_cmd(args, inputs, out, extra=()):
    return [args.pipeline, "--backend", "cpu", "--quiet", "--input", inputs, "--output", out,
            *extra]


def script_cmd(args, inputs, out):
    return [args.python, os.path.join(HERE, "opencv_e2e.py"), "--input", inputs, "--output", out]


def interleaved(peers, reps, own=None):
    """peers: {name: (command, output dir)}; returns {name: [seconds...]}, order A B A B ...
    With `own`, the script's self-timed seconds are appended to it."""
    times = {name: [] for name in peers}
    for _ in range(reps):
        for name, (cmd, out) in peers.items():
            fresh(out)
            times[name].append(wall(cmd, own if name == "opencv" else None))
    return times


def run_size(args, label, w, h, cv2, np):
    inputs = os.path.join(args.work, f"in-{w}x{h}")
    subprocess.run([args.python, os.path.join(HERE, "e2e_inputs.py"), "--out", inputs,
                    "--width", str(w), "--height", str(h), "--frames", str(args.frames)]
                   + [x for d in args.photos for x in ("--photos", d)], check=True)
    out_p = os.path.join(args.work, f"out-pinpool-{w}x{h}")
    out_s = os.path.join(args.work, f"out-opencv-{w}x{h}")
    print(f"== {label}: equality check", flush=True)
    wall(pinpool_cmd(args, inputs, fresh(out_p)))
    wall(script_cmd(args, inputs, fresh(out_s)))
    frames, worst, differing = compare(out_s, out_p, cv2, np)
    result = {"width": w, "height": h, "frames": frames, "max_pixel_difference": worst,
              "frames_differing": differing, "bytes_pinpool": dir_bytes(out_p),
              "bytes_opencv": dir_bytes(out_s), "load_before": load()}
    print(f"   {frames} frames, max difference {worst}, {differing} differing", flush=True)
    report = os.path.join(args.work, f"report-{w}x{h}.json")
    wall(pinpool_cmd(args, inputs, fresh(out_p), ["--report", report]))
    with open(report) as f:
        rep = json.load(f)
    result["pinpool_steps"] = {s["name"]: 1000 * s["seconds"] / max(1, s["frames"])
                               for s in rep["stages"]}
    result["pinpool_report_seconds"] = rep["seconds"]
    result["host_threads"] = rep.get("host_threads")
    print(f"== {label}: {args.repetitions} interleaved repetitions", flush=True)
    own = []
    times = interleaved({"pinpool": (pinpool_cmd(args, inputs, out_p), out_p),
                         "opencv": (script_cmd(args, inputs, out_s), out_s)}, args.repetitions,
                        own)
    result["seconds"] = times
    result["opencv_own_seconds"] = own
    result["median_pinpool"] = statistics.median(times["pinpool"])
    result["median_opencv"] = statistics.median(times["opencv"])
    result["median_opencv_own"] = statistics.median(own)
    result["ratio"] = result["median_opencv"] / result["median_pinpool"]
    result["ratio_own"] = result["median_opencv_own"] / result["median_pinpool"]
    result["load_after"] = load()
    print(f"   pinpool {result['median_pinpool']:.2f} s, script {result['median_opencv']:.2f} s,"
          f" ratio {result['ratio']:.2f}", flush=True)
    return result


def run_settings(args, w, h):
    """pinpool's output settings at one size, interleaved with the script (time and bytes)."""
    inputs = os.path.join(args.work, f"in-{w}x{h}")
    settings = {f"png level {n}": ["--png-level", str(n)] for n in (0, 1, 3, 6, 9)}
    settings["jpeg (quality 90)"] = ["--format", "jpeg"]
    settings["pgm"] = ["--format", "pnm"]
    peers = {}
    for name, extra in settings.items():
        out = os.path.join(args.work, "out-setting-" + name.replace(" ", "_").replace("(", "")
                           .replace(")", ""))
        peers[name] = (pinpool_cmd(args, inputs, out, extra), out)
    out_s = os.path.join(args.work, f"out-opencv-{w}x{h}")
    peers["opencv script (imwrite defaults)"] = (script_cmd(args, inputs, out_s), out_s)
    print(f"== settings at {w}x{h}: {args.setting_repetitions} interleaved rounds", flush=True)
    times = interleaved(peers, args.setting_repetitions)
    return {name: {"median_seconds": statistics.median(t), "bytes": dir_bytes(peers[name][1])}
            for name, t in times.items()}


def section(res):
    lines = [BEGIN, "## Suite e2e: the pipeline end to end against an OpenCV script", ""]
    lines += [
        f"Generated by `bench/run --suites e2e` on {res['date_utc']} (load average "
        f"{' '.join(res['load_start'])} at the start, {' '.join(res['load_end'])} at the end; "
        f"the machine has {res['cores']} cores and is shared). Command: `{res['command']}`.",
        "",
        "pinpool: `pinpool-pipeline --backend cpu --input DIR --output DIR2` (defaults: stages "
        "gray,blur,sobel, 3 streams, one host thread per core, PNG level 1). Reference: "
        "`bench/opencv_e2e.py` (Debian's OpenCV " + res["opencv_version"] + ": "
        "`cv2.setNumThreads(2)`, 3 worker threads running imread, cvtColor, GaussianBlur "
        "(sigma 1.5), Sobel dx and dy, |gx|+|gy| saturated, imwrite with its defaults). Inputs: "
        f"{res['frames']} JPEG frames (quality 90) per size, mosaics of Debian's photographs "
        "(`bench/e2e_inputs.py`). Whole-process wall time, repetitions interleaved (pinpool, "
        "script, pinpool, ...), medians; ratio = script / pinpool (> 1: pinpool is faster; the "
        "issue's target is 1.5).", ""]
    rows = []
    for label, r in res["sizes"].items():
        verdict = "met" if r["ratio"] >= 1.5 else "not met"
        rows.append(f"| {label} | {r['median_pinpool']:.2f} | {r['median_opencv']:.2f} | "
                    f"**{r['ratio']:.2f}** ({verdict}) | {r['median_opencv_own']:.2f} | "
                    f"{r['ratio_own']:.2f} | {r['max_pixel_difference']} "
                    f"({r['frames_differing']}/{r['frames']} frames) | "
                    f"{r['bytes_pinpool'] / 1e6:.1f} / {r['bytes_opencv'] / 1e6:.1f} |")
    lines += ["| size | pinpool s | script s | ratio | script's own work s | ratio to it | "
              "max pixel difference | MB written pinpool / script |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"] + rows + [""]
    lines += ["\"Script's own work\" is what the script times itself, after interpreter start-up "
              "and `import cv2` (which the whole-process time includes, as a user waits for it); "
              "its ratio is the stricter comparison: pinpool's whole process against the "
              "script's work alone.", ""]
    lines += ["### Where pinpool's time goes (ms per frame, its own summary)", "",
              "Host work (decode, encode+write) runs on the host threads, the rest on the "
              "streams (on the CPU backend, one worker thread each); the waits are a frame's "
              "time waiting for a free stream or a host thread. All threads share the cores, so "
              "each figure includes time spent preempted.", ""]
    names = []
    for r in res["sizes"].values():
        names += [n for n in r["pinpool_steps"] if n not in names]
    lines += ["| step | " + " | ".join(res["sizes"]) + " |",
              "|---|" + "---:|" * len(res["sizes"])]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(f"{r['pinpool_steps'].get(n, 0):.2f}"
                                              for r in res["sizes"].values()) + " |")
    lines.append("")
    if res.get("settings"):
        s = res["settings"]
        ref = s["opencv script (imwrite defaults)"]
        lines += ["### Output settings at 1080p (pinpool's flags; same frames, interleaved)", "",
                  "| run | s (median) | MB written | time vs script | size vs script |",
                  "|---|---:|---:|---:|---:|"]
        for name, v in s.items():
            lines.append(f"| {name} | {v['median_seconds']:.2f} | {v['bytes'] / 1e6:.1f} | "
                         f"{v['median_seconds'] / ref['median_seconds']:.2f} | "
                         f"{v['bytes'] / ref['bytes']:.2f} |")
        lines.append("")
    if res.get("png_table"):
        lines += ["### PNG encoder settings against OpenCV's defaults (one thread, in memory)", "",
                  "`bench/e2e_png.py` on the script's 1080p outputs; the default (libdeflate, Up "
                  "filter, level 1) was chosen from this table: the smallest files of the "
                  "fastest settings.", "", res["png_table"].strip(), ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def splice(path, text):
    old = open(path).read() if os.path.exists(path) else "# pinpool benchmark results\n\n"
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + text.rstrip("\n") + old[old.index(END) + len(END):]
    else:
        anchor = "## Suite 4: GPU"
        new = (old[:old.index(anchor)] + text + "\n" + old[old.index(anchor):] if anchor in old
               else old.rstrip("\n") + "\n\n" + text)
    with open(path, "w") as f:
        f.write(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipeline", required=True, help="the pinpool-pipeline binary (Release)")
    ap.add_argument("--work", required=True, help="folder for inputs and outputs (build dir)")
    ap.add_argument("--out", required=True, help="results directory (e2e.json, RESULTS.md)")
    ap.add_argument("--python", default="/usr/bin/python3", help="python with cv2")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--repetitions", type=int, default=5, help="timed runs of each (default 5)")
    ap.add_argument("--setting-repetitions", type=int, default=3,
                    help="rounds of the 1080p settings table (default 3; 0: skip it)")
    ap.add_argument("--sizes", default="1080p,4K", help="comma-separated: 1080p,4K")
    ap.add_argument("--photos", action="append", default=[],
                    help="a directory of the photographs (repeatable; see e2e_inputs.py)")
    ap.add_argument("--command", default="bench/run --suites e2e",
                    help="the command recorded in RESULTS.md")
    args = ap.parse_args()
    import cv2
    import numpy as np

    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    res = {"date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_start": load(),
           "cores": os.cpu_count(), "opencv_version": cv2.__version__, "frames": args.frames,
           "repetitions": args.repetitions, "command": args.command, "sizes": {}}
    for label in args.sizes.split(","):
        if label not in SIZES:
            sys.exit(f"e2e.py: unknown size '{label}' (choose from {', '.join(SIZES)})")
        res["sizes"][label] = run_size(args, label, *SIZES[label], cv2, np)
    if args.setting_repetitions > 0 and "1080p" in res["sizes"]:
        res["settings"] = run_settings(args, *SIZES["1080p"])
        res["png_table"] = subprocess.run(
            [args.python, os.path.join(HERE, "e2e_png.py"), "--images",
             os.path.join(args.work, "out-opencv-1920x1080"), "--json",
             os.path.join(args.out, "e2e_png.json")],
            check=True, stdout=subprocess.PIPE, text=True).stdout
    res["load_end"] = load()
    with open(os.path.join(args.out, "e2e.json"), "w") as f:
        json.dump(res, f, indent=1)
    text = section(res)
    with open(os.path.join(args.out, "e2e.md"), "w") as f:
        f.write(text)
    splice(os.path.join(args.out, "RESULTS.md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
