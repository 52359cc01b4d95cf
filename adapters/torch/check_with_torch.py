#!/usr/bin/env python3
"""PyTorch on libpinpool_torch.so, for a machine with a GPU and a CUDA build of PyTorch.

usage: adapters/torch/check_with_torch.py BUILD/adapters/torch/libpinpool_torch.so

Runs a child Python that switches PyTorch to the plugin with README's three lines, computes on
the default stream and on a side stream (results checked against values known in closed form),
and exits; the plugin writes its pools' statistics at exit (PINPOOL_TORCH_STATS), which this
parent then reads: the allocations went through pinpool. Exit status 0: passed; 1: failed;
77: skipped (no PyTorch, no CUDA build of it, or no GPU), with the reason on stdout.
Not run on the project's CI machines (no GPU, no PyTorch).
"""

import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import sys
import torch

lib = sys.argv[1]
alloc = torch.cuda.memory.CUDAPluggableAllocator(lib, "pinpool_alloc", "pinpool_free")
torch.cuda.memory.change_current_allocator(alloc)

n = 1 << 20
x = torch.arange(n, device="cuda", dtype=torch.float64)
total = (x * 2).sum().item()
assert total == n * (n - 1), total               # 2 * sum(0..n-1)

side = torch.cuda.Stream()
with torch.cuda.stream(side):
    for i in range(200):                          # same-stream reuse on a non-default stream
        a = torch.full((512, 512), float(i), device="cuda")
        b = a @ torch.eye(512, device="cuda")
        assert b[0, 0].item() == float(i)
        del a, b
torch.cuda.synchronize()
empty = torch.empty(0, device="cuda")            # size 0: a null pointer, as PyTorch's own
assert empty.numel() == 0
print("child: ok")
"""


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 1
    lib = os.path.abspath(sys.argv[1])
    if not os.path.isfile(lib):
        print(f"no such library: {lib}")
        return 1
    try:
        import torch  # noqa: F401 (only whether it is there)
    except ImportError:
        print("skip: PyTorch is not installed")
        return 77
    if torch.version.cuda is None:
        print("skip: PyTorch is not a CUDA build")
        return 77
    if not torch.cuda.is_available():
        print("skip: no usable GPU")
        return 77

    with tempfile.TemporaryDirectory() as tmp:
        stats_path = os.path.join(tmp, "pinpool_torch_stats.json")
        env = dict(os.environ)
        env.update({
            "PINPOOL_TORCH_STATS": stats_path,
            "PINPOOL_TORCH_SLAB_BYTES": "64MiB",
            "PINPOOL_TORCH_ON_FAILURE": "abort",
        })
        child = subprocess.run([sys.executable, "-c", CHILD, lib], env=env, text=True,
                               capture_output=True, timeout=600)
        sys.stdout.write(child.stdout)
        sys.stderr.write(child.stderr)
        if child.returncode != 0 or "child: ok" not in child.stdout:
            print(f"FAILED: the PyTorch child exited with {child.returncode}")
            return 1
        try:
            with open(stats_path) as f:
                stats = json.load(f)
        except (OSError, ValueError) as e:
            print(f"FAILED: no statistics from the plugin at exit ({e})")
            return 1

    devices = stats.get("devices", [])
    if not devices or devices[0]["device"] != 0:
        print(f"FAILED: no pool for device 0 in {stats}")
        return 1
    st = devices[0]["stats"]
    print("device 0:", json.dumps({k: st[k] for k in (
        "acquisitions", "hits", "backend_allocations", "bytes_reserved", "peak_bytes_in_use",
        "outstanding_buffers")}))
    failures = []
    if st["acquisitions"] < 400:                  # 200 iterations x (a, eye, b) at least
        failures.append(f"only {st['acquisitions']} acquisitions went through pinpool")
    if st["hits"] < st["acquisitions"] // 2:
        failures.append(f"few reuses: {st['hits']} hits of {st['acquisitions']}")
    if st["backend_allocations"] > 8:
        failures.append(f"{st['backend_allocations']} slabs for a loop of 1 MiB tensors")
    for f in failures:
        print("FAILED:", f)
    if not failures:
        print("passed: PyTorch allocated through pinpool")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
