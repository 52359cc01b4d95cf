#!/usr/bin/env python3
"""OpenCV's CPU functions on the frames bench/kernels.cpp times (same ops, sizes, noise input):
cvtColor RGB2GRAY, GaussianBlur (sigma 1.5, 2*ceil(3 sigma)+1 taps, BORDER_REFLECT_101),
Sobel dx+dy 3x3 with |gx|+|gy| saturated, equalizeHist. Writes JSON {op: {"WxH": median ms}}.
Needs Debian's python3-opencv (run with /usr/bin/python3)."""
import argparse
import json
import math
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-o", "--output", required=True, help="JSON file to write")
    ap.add_argument("--repetitions", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2,
                    help="cv2.setNumThreads (default 2, as pinpool-bench-kernels)")
    args = ap.parse_args()
    import cv2
    import numpy as np

    cv2.setNumThreads(args.threads)

    rng = np.random.default_rng(7)
    radius = math.ceil(3 * 1.5)
    ksize = (2 * radius + 1, 2 * radius + 1)

    def sobel(g):
        gx = cv2.Sobel(g, cv2.CV_16S, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT_101)
        gy = cv2.Sobel(g, cv2.CV_16S, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT_101)
        return cv2.convertScaleAbs(cv2.add(cv2.absdiff(gx, 0), cv2.absdiff(gy, 0), dtype=cv2.CV_32S))

    ops = {
        "gray": lambda rgb, g: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
        "blur": lambda rgb, g: cv2.GaussianBlur(g, ksize, sigmaX=1.5, sigmaY=1.5,
                                                borderType=cv2.BORDER_REFLECT_101),
        "sobel": lambda rgb, g: sobel(g),
        "equalize": lambda rgb, g: cv2.equalizeHist(g),
    }
    result = {"opencv_version": cv2.__version__, "threads": cv2.getNumThreads()}
    for name, op in ops.items():
        result[name] = {}
        for w, h in ((1280, 720), (1920, 1080), (3840, 2160)):
            rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            g = rng.integers(0, 256, (h, w), dtype=np.uint8)
            op(rgb, g)  # warm-up
            times = []
            for _ in range(args.repetitions):
                t0 = time.perf_counter()
                op(rgb, g)
                times.append((time.perf_counter() - t0) * 1000.0)
            times.sort()
            result[name][f"{w}x{h}"] = times[len(times) // 2]
    with open(args.output, "w") as f:
        json.dump(result, f, indent=1)
    print(f"opencv {cv2.__version__}: wrote {args.output}")


if __name__ == "__main__":
    main()
