#!/usr/bin/env python3
"""Epoch time of the reference Fashion-MNIST CNN: frugal against PyTorch, same data, batch size
and threads, run one after the other on the same machine. Prints frugal/PyTorch speed ratios at
1 and 2 threads. Run with Debian's python3 (PyTorch 1.13) and, for the newest torch from the
package index, with a python whose torch comes from pip:

    /usr/bin/python3 bench/peers/fmnist_cnn.py [--frugal build/release/frugal] [--epochs 1]
"""
import argparse, gzip, json, os, subprocess, sys, time

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = "/usr/share/datasets/fashion-mnist"


def load(kind):
    with gzip.open(f"{DATA}/{kind}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    x = (x - 0.2860) / 0.3530  # the normalize layer of examples/fmnist_cnn.toml
    with gzip.open(f"{DATA}/{kind}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def torch_epoch_seconds(threads, epochs, limit):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = load("train")
    if limit:
        x, y = x[:limit], y[:limit]
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        start = time.perf_counter()
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return min(times)


def frugal_epoch_seconds(binary, threads, epochs, limit):
    out = subprocess.run([binary, "train", os.path.join(ROOT, "examples/fmnist_cnn.toml"),
                          "--set", f"epochs={epochs}", "--set", "test_limit=1000", "--set", f"train_limit={limit}", "--threads", str(threads),
                          "--out", f"/tmp/frugal_bench_cnn_{threads}", "--json"],
                         check=True, capture_output=True, text=True)
    m = json.loads(out.stdout)
    return m["train_seconds"] / epochs


def torch_blas():
    """Debian's torch calls whatever libblas.so.3 the alternatives system points to: the netlib
    reference BLAS unless OpenBLAS is installed, which makes its linear layers several times slower."""
    path = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    return "openblas" if "openblas" in path else ("netlib reference BLAS" if "/blas/" in path else path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frugal", default=os.path.join(ROOT, "build/release/frugal"))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--limit", type=int, default=0, help="train on the first N samples only (0: all 60000)")
    args = ap.parse_args()
    blas = torch_blas()
    print(f"PyTorch {torch.__version__} BLAS: {blas}", flush=True)
    if blas != "openblas":
        print("  (apt-get install libopenblas0-pthread gives PyTorch its fast BLAS; compare against that)", flush=True)
    rows = []
    for t in [int(s) for s in args.threads.split(",")]:
        f = frugal_epoch_seconds(args.frugal, t, args.epochs, args.limit)
        p = torch_epoch_seconds(t, args.epochs, args.limit)
        rows.append({"threads": t, "frugal_s": f, "torch_s": p, "speedup": p / f, "torch": torch.__version__,
                     "blas": blas})
        print(f"threads {t}: frugal {f:.2f} s/epoch, PyTorch {torch.__version__} {p:.2f} s/epoch, "
              f"frugal is {p / f:.2f}x faster", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    sys.exit(main())
