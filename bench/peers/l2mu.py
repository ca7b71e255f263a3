#!/usr/bin/env python3
"""Training and inference throughput of the L2MU of examples/har_l2mu.toml: frugal against the same
network built from snnTorch Leaky populations, as the L2MU's authors build it (a Python loop over
time steps, one Leaky per population: u, m, h and the output). Same data (BasicMotions, z-scored
with the training split's statistics), sizes, neuron settings, loss (cross-entropy of output spike
counts), optimizer, batch sizes and threads; run one after the other on the same machine. Prints
frugal/snnTorch ratios of training samples/s, inference samples/s over the test set (batch 40,
frugal's as `frugal eval` reports it, which includes its per-call overheads) and batch-1 inference
on one 40-step window (median latency).

The memory is multiplied by Ā as in docs/l2mu.md (frugal's default), i.e. F.linear(m, Ā); the
authors' code passes keras-lmu's stored Āᵀ there instead (frugal's transpose_a = true).

snnTorch comes from the package index into a venv that sees Debian's PyTorch 1.13:

    /usr/bin/python3 -m venv --system-site-packages /tmp/venv-l2mu && /tmp/venv-l2mu/bin/pip install --no-deps snntorch
    scripts/fetch_har.sh
    /tmp/venv-l2mu/bin/python bench/peers/l2mu.py [--epochs 5] [--threads 1] [--frugal build/release/frugal]
"""
import argparse, json, math, os, subprocess, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import snntorch as snn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, "examples/har_l2mu.toml")
DATA = os.path.join(os.environ.get("FRUGAL_CACHE", os.path.expanduser("~/.cache/frugal")), "BasicMotions")
# examples/har_l2mu.toml
M, D, THETA, H, CLASSES, F_IN = 16, 4, 7.0, 32, 4, 6
POP = {"u": (0.65, 0.1), "m": (0.35, 0.4), "h": (0.15, 0.75), "out": (0.15, 0.1)}
LR, BATCH, EVAL_BATCH = 2e-3, 8, 40
WINDOW, REPEATS = 40, 200  # batch-1 latency: the first 40 steps of a test series, median of 200 passes


def read_ts(path):
    """A labelled, equal-length .ts file -> (x [N, T, C] float32, labels [N] int64)."""
    classes, xs, ys, in_data = [], [], [], False
    with open(path) as f:
        for line in f:
            t = line.strip()
            if not t or t.startswith("#"):
                continue
            if not in_data:
                if t.lower().startswith("@classlabel"):
                    classes = t.split()[2:]
                in_data = t.lower() == "@data"
                continue
            dims = t.split(":")
            xs.append([[float(v) for v in d.split(",")] for d in dims[:-1]])
            ys.append(classes.index(dims[-1]))
    return np.asarray(xs, dtype=np.float32).transpose(0, 2, 1), np.asarray(ys, dtype=np.int64)


def zoh(order, theta):
    """Ā, B̄ of the Legendre delay system (Voelker et al. 2019) by zero-order hold, dt = 1."""
    q = np.arange(order, dtype=np.float64)
    r = (2 * q + 1)[:, None]
    j, i = np.meshgrid(q, q)
    a = np.where(i < j, -1, (-1.0) ** (i - j + 1)) * r
    b = ((-1.0) ** q[:, None]) * r
    em = np.zeros((order + 1, order + 1))
    em[:order, :order], em[:order, order:] = a / theta, b / theta
    ms = torch.matrix_exp(torch.tensor(em)).numpy()
    return torch.tensor(ms[:order, :order], dtype=torch.float32), torch.tensor(ms[:order, order], dtype=torch.float32)


class L2MU(nn.Module):
    def __init__(self):
        super().__init__()
        def lecun(rows, cols):
            bound = math.sqrt(3.0 / cols)
            return nn.Parameter(torch.empty(rows, cols).uniform_(-bound, bound))
        def xavier(rows, cols):
            return nn.Parameter(nn.init.xavier_normal_(torch.empty(rows, cols)))
        self.e_x, self.e_h = lecun(M, F_IN), lecun(M, H)
        self.e_m = nn.Parameter(torch.zeros(M, M * D))
        self.W_x, self.W_h, self.W_m = xavier(H, F_IN), xavier(H, H), xavier(H, M * D)
        A, B = zoh(D, THETA)
        self.register_buffer("A", A)
        self.register_buffer("B", B[:, None])
        self.out = nn.Linear(H, CLASSES)
        self.lif = nn.ModuleDict({k: snn.Leaky(beta=b, threshold=t) for k, (b, t) in POP.items()})

    def forward(self, x):  # x [T, N, F] -> output spikes [T, N, classes]
        n = x.shape[1]
        mem = {k: l.init_leaky() for k, l in self.lif.items()}
        s_h, s_m = x.new_zeros(n, H), x.new_zeros(n, M * D)
        outs = []
        for t in range(x.shape[0]):
            s_u, mem["u"] = self.lif["u"](F.linear(x[t], self.e_x) + F.linear(s_h, self.e_h) + F.linear(s_m, self.e_m), mem["u"])
            cur_m = F.linear(s_m.view(n, M, D), self.A) + F.linear(s_u[:, :, None], self.B)
            s_m, mem["m"] = self.lif["m"](cur_m.reshape(n, M * D), mem["m"])
            s_h, mem["h"] = self.lif["h"](F.linear(x[t], self.W_x) + F.linear(s_h, self.W_h) + F.linear(s_m, self.W_m), mem["h"])
            s_o, mem["out"] = self.lif["out"](self.out(s_h), mem["out"])
            outs.append(s_o)
        return torch.stack(outs)


def snntorch_run(xtr, ytr, xte, yte, epochs):
    torch.manual_seed(42)
    model = L2MU()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    xtr_t, ytr_t = torch.tensor(xtr).transpose(0, 1), torch.tensor(ytr)
    samples, t0 = 0, time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(ytr))
        for s in range(0, len(ytr), BATCH):
            idx = perm[s:s + BATCH]
            loss = F.cross_entropy(model(xtr_t[:, idx]).sum(0), ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            samples += len(idx)
    train_sps = samples / (time.perf_counter() - t0)
    xte_t = torch.tensor(xte).transpose(0, 1)
    with torch.no_grad():
        t0 = time.perf_counter()
        pred = torch.cat([model(xte_t[:, s:s + EVAL_BATCH]).sum(0).argmax(1) for s in range(0, len(yte), EVAL_BATCH)])
        infer_sps = len(yte) / (time.perf_counter() - t0)
        window = xte_t[:WINDOW, :1]
        lat = []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            model(window)
            lat.append((time.perf_counter() - t0) * 1e6)
    return train_sps, infer_sps, float((pred.numpy() == yte).mean()), float(np.median(lat))


def frugal_run(binary, epochs, threads, out):
    common = ["--json", "--threads", str(threads)]
    t = subprocess.run([binary, "train", CONFIG, "--set", f"epochs={epochs}", "--data-dir", DATA, "--out", out] + common,
                       capture_output=True, text=True, check=True)
    train = json.loads(t.stdout)
    e = subprocess.run([binary, "eval", os.path.join(out, "model.safetensors"), "--data-dir", DATA,
                        "--batch-size", str(EVAL_BATCH)] + common, capture_output=True, text=True, check=True)
    ev = json.loads(e.stdout)
    # compress-l2mu without pruning, fine-tuning or int8 only times the float model at batch 1.
    c = subprocess.run([binary, "compress-l2mu", os.path.join(out, "model.safetensors"), "--data-dir", DATA, "--prune", "0",
                        "--finetune-epochs", "0", "--no-int8", "--window", str(WINDOW)] + common,
                       capture_output=True, text=True, check=True)
    return train["train_samples_per_s"], ev["samples_per_s"], ev["test_accuracy"], json.loads(c.stdout)["fp32_latency_us_p50"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--frugal", default=os.path.join(ROOT, "build/release/frugal"))
    ap.add_argument("--out", default="/tmp/frugal_peer_l2mu")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(DATA, "BasicMotions_TRAIN.ts")):
        sys.exit(f"{DATA}: BasicMotions not found; run scripts/fetch_har.sh")
    torch.set_num_threads(a.threads)
    xtr, ytr = read_ts(os.path.join(DATA, "BasicMotions_TRAIN.ts"))
    xte, yte = read_ts(os.path.join(DATA, "BasicMotions_TEST.ts"))
    mean, std = xtr.mean(axis=(0, 1)), xtr.std(axis=(0, 1))
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    st, si, sa, sl = snntorch_run(xtr, ytr, xte, yte, a.epochs)
    ft, fi, fa, fl = frugal_run(a.frugal, a.epochs, a.threads, a.out)
    print(json.dumps({"epochs": a.epochs, "threads": a.threads, "window_steps": WINDOW,
                      "snntorch": {"train_samples_per_s": st, "infer_samples_per_s": si, "latency_us_p50": sl, "test_accuracy": sa},
                      "frugal": {"train_samples_per_s": ft, "infer_samples_per_s": fi, "latency_us_p50": fl, "test_accuracy": fa},
                      "train_ratio": ft / st, "infer_ratio": fi / si, "batch1_infer_ratio": sl / fl}))


if __name__ == "__main__":
    main()
