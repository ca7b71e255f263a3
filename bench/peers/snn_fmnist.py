#!/usr/bin/env python3
"""Epoch time of the spiking CNN of examples/fmnist_snn.toml: frugal against snnTorch, same data,
batch size, T and threads, run one after the other on the same machine. Prints frugal/snnTorch
speed ratios at 1 and 2 threads. snnTorch comes from the package index into a venv that sees
Debian's PyTorch 1.13:

    /usr/bin/python3 -m venv --system-site-packages /tmp/venv-snn && /tmp/venv-snn/bin/pip install --no-deps snntorch
    /tmp/venv-snn/bin/python bench/peers/snn_fmnist.py --limit 1280 [--frugal build/release/frugal]

The snnTorch model is written the way its tutorials write it (a Python loop over T with Leaky
layers), except that the first convolution runs once per batch, as in frugal's config, where the
direct encoder repeats the first layer's output current instead of the image.
"""
import argparse, gzip, json, os, subprocess, sys, time

import numpy as np
import torch
import torch.nn as nn
import snntorch as snn
import snntorch.functional as SF
from snntorch import surrogate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = "/usr/share/datasets/fashion-mnist"
CONFIG = os.path.join(ROOT, "examples/fmnist_snn.toml")
STEPS, BETA, SLOPE, LR, BATCH = 8, 0.5, 25, 2e-3, 128


def load(kind):
    with gzip.open(f"{DATA}/{kind}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    with gzip.open(f"{DATA}/{kind}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        sg = surrogate.fast_sigmoid(slope=SLOPE)
        self.conv1, self.conv2, self.fc = nn.Conv2d(1, 12, 5), nn.Conv2d(12, 64, 5), nn.Linear(1024, 10)
        self.lif1, self.lif2, self.lif3 = (snn.Leaky(beta=BETA, spike_grad=sg) for _ in range(3))

    def forward(self, x):
        mem1, mem2, mem3 = self.lif1.init_leaky(), self.lif2.init_leaky(), self.lif3.init_leaky()
        cur1 = nn.functional.max_pool2d(self.conv1(x), 2)
        out = []
        for _ in range(STEPS):
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = nn.functional.max_pool2d(self.conv2(spk1), 2)
            spk2, mem2 = self.lif2(cur2, mem2)
            spk3, mem3 = self.lif3(self.fc(spk2.flatten(1)), mem3)
            out.append(spk3)
        return torch.stack(out)


def snntorch_epoch_seconds(threads, limit):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = load("train")
    if limit:
        x, y = x[:limit], y[:limit]
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = SF.ce_count_loss()
    perm = torch.randperm(len(x))
    start = time.perf_counter()
    for i in range(0, len(x), BATCH):
        idx = perm[i:i + BATCH]
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def frugal_epoch_seconds(binary, threads, limit):
    out = subprocess.run([binary, "train", CONFIG, "--set", "epochs=1", "--set", "test_limit=100",
                          "--set", f"train_limit={limit}", "--threads", str(threads),
                          "--out", f"/tmp/frugal_bench_snn_{threads}", "--json"],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["train_seconds"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frugal", default=os.path.join(ROOT, "build/release/frugal"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--limit", type=int, default=0, help="train on the first N samples only (0: all 60000)")
    args = ap.parse_args()
    rows = []
    for t in [int(s) for s in args.threads.split(",")]:
        f = frugal_epoch_seconds(args.frugal, t, args.limit)
        p = snntorch_epoch_seconds(t, args.limit)
        rows.append({"threads": t, "frugal_s": f, "snntorch_s": p, "speedup": p / f,
                     "snntorch": snn.__version__, "torch": torch.__version__})
        print(f"threads {t}: frugal {f:.2f} s/epoch, snnTorch {snn.__version__} {p:.2f} s/epoch, "
              f"frugal is {p / f:.2f}x faster", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    sys.exit(main())
