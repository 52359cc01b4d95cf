#!/usr/bin/env python3
"""Cross-checks pinpool-kernel-cli (the CPU launchers of pinpool::kernels) against OpenCV.

usage: opencv_check.py PATH/TO/pinpool-kernel-cli

Writes random and synthetic images, and real photographs, as PGM/PPM/PAM, runs the CLI on
each, and compares with cv2.cvtColor / cv2.GaussianBlur / cv2.Sobel / cv2.equalizeHist. Every
stage must be bit-exact (maximum difference 0). Prints the maximum difference per stage.
Exit status: 0 when every result is equal, 1 otherwise, 77 (skipped) when cv2 or numpy cannot be
imported.

Photographs: the JPEG/PNG photos Debian's python-matplotlib-data ships (grace_hopper.jpg,
Minduka_Present_Blue_Pack.png; `apt-get install python3-matplotlib`), plus every *.jpg, *.jpeg,
*.png in the directory PINPOOL_PHOTO_DIR when set; each also scaled to 1920x1080. Without any,
a line says so and the synthetic images are checked alone.
"""

import glob
import math
import os
import subprocess
import sys
import tempfile

try:
    import cv2
    import numpy as np
except ImportError as e:
    print(f"SKIP: cannot import cv2/numpy ({e}); apt-get install python3-opencv")
    sys.exit(77)

SIZES = [(1, 1), (1, 17), (17, 1), (2, 2), (3, 2), (5, 7), (33, 21), (64, 48), (101, 77),
         (640, 480)]
SIGMAS = [0.5, 0.8, 1.0, 1.5, 2.0, 3.3, 5.0, 10.0]


PHOTOS = ["/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg",
          "/usr/share/matplotlib/mpl-data/sample_data/Minduka_Present_Blue_Pack.png"]


def photographs():
    """(name, RGB image) pairs of the photographs found, each also scaled to 1920x1080."""
    paths = [p for p in PHOTOS if os.path.exists(p)]
    extra = os.environ.get("PINPOOL_PHOTO_DIR")
    if extra:
        for pattern in ("*.jpg", "*.jpeg", "*.png"):
            paths += sorted(glob.glob(os.path.join(extra, pattern)))
    found = []
    for path in paths:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        name = os.path.basename(path)
        h, w = rgb.shape[:2]
        found.append((f"photo {name} {w}x{h}", rgb))
        found.append((f"photo {name} scaled to 1920x1080",
                      cv2.resize(rgb, (1920, 1080), interpolation=cv2.INTER_CUBIC)))
    return found


def write_pnm(path, img):
    h, w = img.shape[:2]
    c = 1 if img.ndim == 2 else img.shape[2]
    with open(path, "wb") as f:
        if c == 1:
            f.write(f"P5\n{w} {h}\n255\n".encode())
        elif c == 3:
            f.write(f"P6\n{w} {h}\n255\n".encode())
        else:
            f.write(f"P7\nWIDTH {w}\nHEIGHT {h}\nDEPTH 4\nMAXVAL 255\n"
                    "TUPLTYPE RGB_ALPHA\nENDHDR\n".encode())
        f.write(np.ascontiguousarray(img, dtype=np.uint8).tobytes())


def read_pgm(path):
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    assert fields[0] == b"P5" and fields[3] == b"255", fields
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(data[pos + 1:pos + 1 + w * h], dtype=np.uint8).reshape(h, w)


def images(rng, channels, photos=()):
    """(name, image) pairs: random, smooth random, gradient, checkerboard, constant; then the
    photographs (RGB; RGBA with a random alpha; grey as cv2 converts them)."""
    for name, rgb in photos:
        if channels == 3:
            yield name, rgb
        elif channels == 4:
            alpha = rng.integers(0, 256, rgb.shape[:2], dtype=np.uint8)
            yield name, np.dstack([rgb, alpha])
        else:
            yield name, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    for w, h in SIZES:
        shape = (h, w) if channels == 1 else (h, w, channels)
        yield f"random {w}x{h}", rng.integers(0, 256, shape, dtype=np.uint8)
        noise = rng.integers(0, 256, shape, dtype=np.uint8)
        yield f"smooth {w}x{h}", cv2.resize(cv2.resize(noise, (max(1, w // 8), max(1, h // 8)),
                                                       interpolation=cv2.INTER_AREA),
                                            (w, h), interpolation=cv2.INTER_CUBIC)
        xs = np.linspace(0, 255, w)[None, :] * np.ones((h, 1))
        ys = np.linspace(0, 90, h)[:, None] * np.ones((1, w))
        grad = ((xs + ys) % 256).astype(np.uint8)
        yield f"gradient {w}x{h}", grad if channels == 1 else np.dstack([grad] * channels)
        cb = (((np.arange(w)[None, :] // 4 + np.arange(h)[:, None] // 4) % 2) * 230 + 10)
        cb = cb.astype(np.uint8)
        yield f"checkerboard {w}x{h}", cb if channels == 1 else np.dstack([cb] * channels)
        yield f"constant {w}x{h}", np.full(shape, 77, dtype=np.uint8)


class stats:
    def __init__(self):
        self.max_diff = 0
        self.above_one = 0
        self.pixels = 0
        self.worst = ""

    def add(self, name, ours, theirs):
        d = np.abs(ours.astype(np.int32) - theirs.astype(np.int32))
        m = int(d.max())
        if m > self.max_diff:
            self.max_diff, self.worst = m, name
        self.above_one += int((d > 1).sum())
        self.pixels += d.size


def run_cli(cli, tmp, stage, img, extra=()):
    ext = {1: "pgm", 3: "ppm", 4: "pam"}[1 if img.ndim == 2 else img.shape[2]]
    src, dst = os.path.join(tmp, f"in.{ext}"), os.path.join(tmp, "out.pgm")
    write_pnm(src, img)
    subprocess.run([cli, stage, src, dst, *extra], check=True)
    return read_pgm(dst)


def check_gray(cli, tmp, rng, photos):
    s = stats()
    for channels, code in ((3, cv2.COLOR_RGB2GRAY), (4, cv2.COLOR_RGBA2GRAY)):
        for name, img in images(rng, channels, photos):
            s.add(f"{name} c{channels}", run_cli(cli, tmp, "gray", img), cv2.cvtColor(img, code))
    return s


def check_blur(cli, tmp, rng, photos):
    s = stats()
    for sigma in SIGMAS:
        sigma32 = float(np.float32(sigma))
        r = math.ceil(3.0 * sigma32)
        for name, img in images(rng, 1, photos):
            if img.size > 100_000 and sigma not in (1.5, 2.0):
                continue  # keep the run short
            want = cv2.GaussianBlur(img, (2 * r + 1, 2 * r + 1), sigmaX=sigma32, sigmaY=sigma32,
                                    borderType=cv2.BORDER_REFLECT_101)
            s.add(f"{name} sigma {sigma}", run_cli(cli, tmp, "blur", img, (repr(sigma),)), want)
    return s


def check_sobel(cli, tmp, rng, photos):
    s = stats()
    for name, img in images(rng, 1, photos):
        gx = cv2.Sobel(img, cv2.CV_16S, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT_101)
        gy = cv2.Sobel(img, cv2.CV_16S, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT_101)
        want = np.clip(np.abs(gx.astype(np.int32)) + np.abs(gy.astype(np.int32)), 0, 255)
        s.add(name, run_cli(cli, tmp, "sobel", img), want.astype(np.uint8))
    return s


def check_equalize(cli, tmp, rng, photos):
    s = stats()
    for name, img in images(rng, 1, photos):
        s.add(name, run_cli(cli, tmp, "equalize", img), cv2.equalizeHist(img))
        low = (img // 4 + 100).astype(np.uint8)  # low contrast
        s.add(f"{name} low-contrast", run_cli(cli, tmp, "equalize", low), cv2.equalizeHist(low))
    return s


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    cli = sys.argv[1]
    rng = np.random.default_rng(20240607)
    # (stage, check, max difference allowed, share of pixels allowed above 1): all bit-exact
    checks = [("gray", check_gray, 0, 0.0), ("blur", check_blur, 0, 0.0),
              ("sobel", check_sobel, 0, 0.0), ("equalize", check_equalize, 0, 0.0)]
    print(f"OpenCV {cv2.__version__}, numpy {np.__version__}")
    photos = photographs()
    if photos:
        print("photographs: " + ", ".join(name for name, _ in photos))
    else:
        print("photographs: none found (apt-get install python3-matplotlib for its sample photos,"
              " or set PINPOOL_PHOTO_DIR); synthetic images only")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for stage, check, limit, share in checks:
            s = check(cli, tmp, rng, photos)
            frac = s.above_one / max(1, s.pixels)
            good = s.max_diff <= limit and frac <= share
            ok = ok and good
            print(f"{stage:9s} max |ours - cv2| = {s.max_diff}"
                  f"{'  (at ' + s.worst + ')' if s.max_diff else ''}; "
                  f"pixels off by > 1: {s.above_one} of {s.pixels} ({100 * frac:.4f}%)"
                  f"  {'ok' if good else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
