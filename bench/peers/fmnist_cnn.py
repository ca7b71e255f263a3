#!/usr/bin/env python3
"""Epoch time of the reference Fashion-MNIST CNN: frugal against PyTorch, same data, batch size
and threads, run one after the other on the same machine. Prints frugal/PyTorch speed ratios at
1 and 2 threads, against Debian's PyTorch 1.13 (the interpreter running this script) and against
the newest torch from the package index, which the script installs into a venv (--newest-venv;
about 5 GB, since the index's Linux wheel pulls CUDA libraries it does not use on a CPU):

    /usr/bin/python3 bench/peers/fmnist_cnn.py [--frugal build/release/frugal] [--epochs 1] [--skip-newest]
"""
import argparse, gzip, json, os, subprocess, sys, time, venv

import numpy as np
import torch
import torch.nn as nn

from blas_threads import set_blas_threads

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
    set_blas_threads(threads)
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


def newest_torch_seconds(venv_dir, threads, epochs, limit):
    """(version, {threads: epoch seconds}) of the newest torch from the package index, run by this
    script in a venv (--torch-only); None, with the reason printed, when it does not install."""
    python = os.path.join(venv_dir, "bin", "python")
    try:
        if not os.path.exists(python):
            venv.create(venv_dir, with_pip=True)
        if subprocess.run([python, "-c", "import torch, numpy"], capture_output=True).returncode != 0:
            print(f"installing the newest torch from the package index into {venv_dir} ...", flush=True)
            subprocess.run([python, "-m", "pip", "install", "--quiet", "torch", "numpy"], check=True)
        out = subprocess.run([python, os.path.abspath(__file__), "--torch-only", "--threads", threads, "--epochs",
                              str(epochs), "--limit", str(limit)], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"newest torch: not measured ({e})", flush=True)
        return None
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["torch"], {int(k): v for k, v in result["seconds"].items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frugal", default=os.path.join(ROOT, "build/release/frugal"))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--limit", type=int, default=0, help="train on the first N samples only (0: all 60000)")
    ap.add_argument("--newest-venv", default="/tmp/frugal-venv-torch", help="venv for the newest torch")
    ap.add_argument("--skip-newest", action="store_true", help="only Debian's PyTorch")
    ap.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    threads = [int(s) for s in args.threads.split(",")]
    if args.torch_only:  # the newest-torch half, run by newest_torch_seconds in the venv
        print(json.dumps({"torch": torch.__version__,
                          "seconds": {t: torch_epoch_seconds(t, args.epochs, args.limit) for t in threads}}))
        return 0
    blas = torch_blas()
    print(f"PyTorch {torch.__version__} BLAS: {blas}", flush=True)
    if blas != "openblas":
        print("  (apt-get install libopenblas0-pthread gives PyTorch its fast BLAS; compare against that)", flush=True)
    rows = []
    for t in threads:
        f = frugal_epoch_seconds(args.frugal, t, args.epochs, args.limit)
        p = torch_epoch_seconds(t, args.epochs, args.limit)
        rows.append({"threads": t, "frugal_s": f, "torch_s": p, "speedup": p / f, "torch": torch.__version__,
                     "blas": blas})
        print(f"threads {t}: frugal {f:.2f} s/epoch, PyTorch {torch.__version__} {p:.2f} s/epoch, "
              f"frugal is {p / f:.2f}x faster", flush=True)
    newest = None if args.skip_newest else newest_torch_seconds(args.newest_venv, args.threads, args.epochs,
                                                                   args.limit)
    if newest:
        version, seconds = newest
        for row in rows:
            p = seconds[row["threads"]]
            row.update({"newest_torch": version, "newest_torch_s": p, "newest_speedup": p / row["frugal_s"]})
            print(f"threads {row['threads']}: frugal {row['frugal_s']:.2f} s/epoch, PyTorch {version} {p:.2f} "
                  f"s/epoch, frugal is {p / row['frugal_s']:.2f}x faster", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    sys.exit(main())
