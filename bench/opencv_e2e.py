#!/usr/bin/env python3
"""The reference for pinpool-pipeline's default run (issue 14): the OpenCV script a user would
write. cv2.setNumThreads(2) and a pool of 3 worker threads, each running per image
imread -> cvtColor BGR2GRAY -> GaussianBlur (sigma 1.5, 2*ceil(3 sigma)+1 taps,
BORDER_REFLECT_101) -> Sobel dx and dy (3x3, 16-bit) -> |gx|+|gy| saturated to 8 bits ->
imwrite. INPUT/x.jpg is written as OUTPUT/x.png (or x.EXT with --ext), as pinpool-pipeline
names it. imwrite uses OpenCV's default settings unless --png-level is given. Prints the
frames written and the seconds the script's own work took (after `import cv2`).
Needs Debian's python3-opencv (run with /usr/bin/python3)."""
import argparse
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

EXTENSIONS = (".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pnm")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--input", required=True, help="directory of images")
    ap.add_argument("--output", required=True, help="directory for the results (created)")
    ap.add_argument("--threads", type=int, default=2, help="cv2.setNumThreads (default 2)")
    ap.add_argument("--workers", type=int, default=3, help="worker threads (default 3)")
    ap.add_argument("--sigma", type=float, default=1.5, help="Gaussian sigma (default 1.5)")
    ap.add_argument("--ext", default="png", choices=["png", "jpg", "pgm"],
                    help="output format by extension (default png)")
    ap.add_argument("--png-level", type=int, choices=range(10), metavar="0..9",
                    help="IMWRITE_PNG_COMPRESSION (default: OpenCV's own default)")
    args = ap.parse_args()
    import cv2  # noqa: E402 (after argparse: --help works without OpenCV)

    t0 = time.perf_counter()
    cv2.setNumThreads(args.threads)
    names = sorted(n for n in os.listdir(args.input) if n.lower().endswith(EXTENSIONS))
    if not names:
        sys.exit(f"opencv_e2e.py: no images ({', '.join(EXTENSIONS)}) in {args.input}")
    os.makedirs(args.output, exist_ok=True)
    radius = math.ceil(3 * args.sigma)
    ksize = (2 * radius + 1, 2 * radius + 1)
    params = [] if args.png_level is None else [cv2.IMWRITE_PNG_COMPRESSION, args.png_level]

    def process(name):
        img = cv2.imread(os.path.join(args.input, name), cv2.IMREAD_COLOR)
        if img is None:
            raise RuntimeError(f"cannot read {name}")
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        b = cv2.GaussianBlur(g, ksize, sigmaX=args.sigma, sigmaY=args.sigma,
                             borderType=cv2.BORDER_REFLECT_101)
        gx = cv2.Sobel(b, cv2.CV_16S, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT_101)
        gy = cv2.Sobel(b, cv2.CV_16S, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT_101)
        # |gx| + |gy| saturated to 255: each |.| saturated first changes nothing (a term over 255
        # saturates the sum too), and cv2.add of two 8-bit images saturates.
        s = cv2.add(cv2.convertScaleAbs(gx), cv2.convertScaleAbs(gy))
        out = os.path.join(args.output, os.path.splitext(name)[0] + "." + args.ext)
        if not cv2.imwrite(out, s, params if args.ext == "png" else []):
            raise RuntimeError(f"cannot write {out}")

    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        for _ in pool.map(process, names):
            pass
    print(f"{len(names)} frames, {time.perf_counter() - t0:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
