#!/usr/bin/env python3
"""PNG encoder settings measured against OpenCV's imwrite defaults, on the edge images the
end-to-end suite writes (the pipeline's default output: 8-bit grey). One thread, in memory (no
file I/O). Peers:
  opencv default   cv2.imencode('.png') with no parameters: libpng, Sub filter, zlib level 1,
                   Z_RLE strategy (OpenCV 4.x's defaults, modules/imgcodecs/src/grfmt_png.cpp)
  libdeflate F/L   what pinpool's writer does: rows filtered by F (none, sub, up), one
                   libdeflate zlib stream at level L (Debian's libdeflate0, through ctypes);
                   the filtering is done before the timing
Repetitions are interleaved (every peer once per round); medians reported. Prints a Markdown
table; --json writes the figures. Needs Debian's python3-opencv and libdeflate0."""
import argparse
import ctypes
import glob
import json
import os
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", required=True, help="directory of grey PNGs to re-encode")
    ap.add_argument("--count", type=int, default=16, help="images used (default 16)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    import cv2
    import numpy as np

    cv2.setNumThreads(1)
    files = sorted(glob.glob(os.path.join(args.images, "*.png")))[:args.count]
    if not files:
        sys.exit(f"e2e_png.py: no PNG in {args.images}")
    images = [cv2.imread(f, cv2.IMREAD_UNCHANGED) for f in files]
    lib = ctypes.CDLL("libdeflate.so.0")
    lib.libdeflate_alloc_compressor.restype = ctypes.c_void_p
    lib.libdeflate_alloc_compressor.argtypes = [ctypes.c_int]
    lib.libdeflate_zlib_compress.restype = ctypes.c_size_t
    lib.libdeflate_zlib_compress.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                             ctypes.c_void_p, ctypes.c_size_t]
    out = ctypes.create_string_buffer(max(im.size for im in images) * 2 + (1 << 16))

    def filtered(im, kind):
        rows = im.astype(np.int16)
        if kind == "none":
            body, code = im, 0
        elif kind == "sub":
            body = im.copy()
            body[:, 1:] = (rows[:, 1:] - rows[:, :-1]).astype(np.uint8)
            code = 1
        else:
            body = im.copy()
            body[1:] = (rows[1:] - rows[:-1]).astype(np.uint8)
            code = 2
        return np.concatenate([np.full((im.shape[0], 1), code, np.uint8), body], 1).tobytes()

    # Filtered once, outside the timing: numpy's filtering is far slower than the writer's
    # one pass over the bytes (a memcpy-speed loop), which these figures leave out.
    prepared = {kind: {id(im): filtered(im, kind) for im in images}
                for kind in ("none", "sub", "up")}

    def libdeflate_peer(kind, level):
        comp = lib.libdeflate_alloc_compressor(level)

        def run(im):
            data = prepared[kind][id(im)]
            return lib.libdeflate_zlib_compress(comp, data, len(data), out, len(out))
        return run

    peers = {"opencv default": lambda im: len(cv2.imencode(".png", im)[1])}
    for kind in ("none", "sub", "up"):
        for level in (1, 2, 4, 6, 9):
            peers[f"libdeflate {kind}/{level}"] = libdeflate_peer(kind, level)
    times = {name: [] for name in peers}
    sizes = {}
    for _ in range(args.rounds):
        for name, run in peers.items():
            t0 = time.perf_counter()
            total = sum(run(im) for im in images)
            times[name].append((time.perf_counter() - t0) / len(images))
            sizes[name] = total / len(images)
    ref_t = statistics.median(times["opencv default"])
    ref_s = sizes["opencv default"]
    h, w = images[0].shape[:2]
    print(f"{len(images)} images {w}x{h}, {args.rounds} interleaved rounds, medians\n")
    print("| encoder | ms/image | KB/image | time vs OpenCV | size vs OpenCV |")
    print("|---|---:|---:|---:|---:|")
    result = {"images": len(images), "width": w, "height": h, "rounds": args.rounds, "peers": {}}
    for name in peers:
        t = statistics.median(times[name])
        print(f"| {name} | {t * 1e3:.1f} | {sizes[name] / 1e3:.0f} | {t / ref_t:.2f} | "
              f"{sizes[name] / ref_s:.2f} |")
        result["peers"][name] = {"ms": t * 1e3, "bytes": sizes[name]}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
