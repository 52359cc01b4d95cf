#!/usr/bin/env python3
"""Makes the end-to-end suite's inputs: N JPEG frames (quality 90) of WxH built from the colour
photographs Debian ships (python-matplotlib-data's grace_hopper.jpg; python3-skimage's
astronaut, chelsea, coffee, motorcycle_left/right, rocket, hubble_deep_field, retina). Each
frame is a mosaic of rows of tiles about 540 pixels high, so the photographs keep their own
detail (close to native resolution) at 1080p and at 4K; frame i starts at photograph i and
flips every other tile, so no two frames are the same. Deterministic; skips the work when DIR
already holds the same frames (a stamp file). Needs Debian's python3-opencv."""
import argparse
import glob
import os
import sys

PHOTOS = ["grace_hopper.jpg", "astronaut.png", "chelsea.png", "coffee.png",
          "motorcycle_left.png", "motorcycle_right.png", "rocket.jpg",
          "hubble_deep_field.jpg", "retina.jpg"]
SEARCH = ["/usr/share/matplotlib/mpl-data/sample_data",
          "/usr/lib/python3/dist-packages/skimage/data"]


def find_photos(dirs, cv2):
    found = []
    for name in PHOTOS:
        for d in dirs:
            p = os.path.join(d, name)
            if os.path.exists(p):
                img = cv2.imread(p, cv2.IMREAD_COLOR)
                if img is not None:
                    found.append((name, img))
                break
    return found


def mosaic(photos, width, height, index, cv2, np):
    tile_h = max(1, round(height / max(1, round(height / 540))))
    frame = np.empty((height, width, 3), np.uint8)
    k = index
    y = 0
    while y < height:
        h = min(tile_h, height - y)
        x = 0
        while x < width:
            img = photos[k % len(photos)][1]
            scale = tile_h / img.shape[0]
            tile = cv2.resize(img, (max(1, round(img.shape[1] * scale)), tile_h),
                              interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
            if k % 2:
                tile = cv2.flip(tile, 1)
            w = min(tile.shape[1], width - x)
            frame[y:y + h, x:x + w] = tile[:h, :w]
            x += w
            k += 1
        y += h
    return frame


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="directory for the frames (created)")
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--quality", type=int, default=90, help="JPEG quality (default 90)")
    ap.add_argument("--photos", action="append", default=[],
                    help="a directory to search for the photographs first (repeatable)")
    args = ap.parse_args()
    import cv2
    import numpy as np

    photos = find_photos(args.photos + SEARCH, cv2)
    if len(photos) < 2:
        sys.exit("e2e_inputs.py: found fewer than 2 of the photographs " + ", ".join(PHOTOS) +
                 " in " + ", ".join(args.photos + SEARCH))
    stamp_text = (f"{args.width}x{args.height} {args.frames} q{args.quality} "
                  + ",".join(n for n, _ in photos) + "\n")
    stamp = os.path.join(args.out, ".stamp")
    if os.path.exists(stamp) and open(stamp).read() == stamp_text:
        print(f"{args.out}: up to date ({stamp_text.strip()})")
        return 0
    os.makedirs(args.out, exist_ok=True)
    for old in glob.glob(os.path.join(args.out, "*.jpg")):
        os.remove(old)
    for i in range(args.frames):
        frame = mosaic(photos, args.width, args.height, i, cv2, np)
        cv2.imwrite(os.path.join(args.out, f"photo_{i:04d}.jpg"), frame,
                    [cv2.IMWRITE_JPEG_QUALITY, args.quality])
    with open(stamp, "w") as f:
        f.write(stamp_text)
    print(f"{args.out}: wrote {stamp_text.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
