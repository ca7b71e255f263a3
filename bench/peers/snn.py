#!/usr/bin/env python3
"""frugal against snnTorch on the same machine, one after the other, at 1 and 2 threads (issue 3):

  training samples/s   the spiking CNN of examples/fmnist_scnn.toml (T = 25, batch 128)
  inference samples/s  the same net on Fashion-MNIST test images (batch 256, no gradients)
  Linear+LIF           Linear(n, n) + LIF over T = 500 steps, batch 16, forward + backward, n = 512, 4096

and prints frugal/snnTorch ratios (> 1: frugal is faster). snnTorch is installed from the package
index into a venv that sees Debian's PyTorch 1.13 (--system-site-packages) when it is missing:

    /usr/bin/python3 bench/peers/snn.py [--frugal build/release/frugal] [--json]

Each measurement is bounded: --train-batches batches of training, --test-samples images of
inference, --repeats passes of the microbenchmark (best of them after one warm-up pass).
The snnTorch nets are written the way its tutorials write them (a Python loop over T with Leaky
layers), except that the CNN's first convolution runs once per batch, as in frugal's config, where
the direct encoder repeats the first layer's output current instead of the image.
"""
import argparse, json, os, subprocess, sys, tempfile, time

from blas_threads import set_blas_threads

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = "/usr/share/datasets/fashion-mnist"
CONFIG = os.path.join(ROOT, "examples/fmnist_scnn.toml")
STEPS, BETA, SLOPE, LR, BATCH, EVAL_BATCH = 25, 0.5, 25, 2e-3, 128, 256


def ensure_snntorch(venv, version):
    """Re-runs this script under a venv with snnTorch when this interpreter lacks it."""
    try:
        import snntorch  # noqa: F401
        return
    except ImportError:
        pass
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv], check=True)
    # --no-deps: torch and numpy come from Debian; snnTorch's plotting extras are not needed.
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", f"snntorch=={version}"], check=True)
    os.execv(python, [python] + sys.argv)


def load(kind, limit):
    import gzip
    import numpy as np
    import torch
    with gzip.open(f"{DATA}/{kind}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:limit].astype(np.float32) / 255
    with gzip.open(f"{DATA}/{kind}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:limit].astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def snntorch_scnn():
    import torch.nn as nn
    import snntorch as snn
    from snntorch import surrogate

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            sg = surrogate.fast_sigmoid(slope=SLOPE)
            self.conv1, self.conv2, self.fc = nn.Conv2d(1, 12, 5), nn.Conv2d(12, 64, 5), nn.Linear(1024, 10)
            self.lif1, self.lif2, self.lif3 = (snn.Leaky(beta=BETA, spike_grad=sg) for _ in range(3))

        def forward(self, x):
            import torch
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

    return Net()


def snntorch_rates(threads, train_batches, test_samples):
    import torch
    import snntorch.functional as SF
    torch.set_num_threads(threads)
    set_blas_threads(threads)
    torch.manual_seed(0)
    x, y = load("train", (train_batches + 1) * BATCH)
    model = snntorch_scnn()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = SF.ce_count_loss()
    start = 0.0
    for b in range(train_batches + 1):  # batch 0 warms up
        if b == 1:
            start = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(x[b * BATCH:(b + 1) * BATCH]), y[b * BATCH:(b + 1) * BATCH]).backward()
        opt.step()
    train = train_batches * BATCH / (time.perf_counter() - start)
    xt, _ = load("t10k", test_samples)
    model.eval()
    with torch.no_grad():
        model(xt[:EVAL_BATCH])
        start = time.perf_counter()
        for i in range(0, len(xt), EVAL_BATCH):
            model(xt[i:i + EVAL_BATCH])
        infer = len(xt) / (time.perf_counter() - start)
    return train, infer


def snntorch_linear_lif(threads, n, steps, batch, repeats):
    import torch
    import torch.nn as nn
    import snntorch as snn
    from snntorch import surrogate
    torch.set_num_threads(threads)
    set_blas_threads(threads)
    torch.manual_seed(0)
    fc = nn.Linear(n, n)
    lif = snn.Leaky(beta=BETA, spike_grad=surrogate.fast_sigmoid(slope=SLOPE))
    x = torch.rand(steps, batch, n)
    best = float("inf")
    for r in range(repeats + 1):  # r == 0 warms up
        fc.zero_grad()
        start = time.perf_counter()
        mem = lif.init_leaky()
        spikes = []
        for t in range(steps):
            spk, mem = lif(fc(x[t]), mem)
            spikes.append(spk)
        (torch.stack(spikes) ** 2).mean().backward()
        if r > 0:
            best = min(best, time.perf_counter() - start)
    return best


def frugal(binary, args):
    out = subprocess.run([binary] + args + ["--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def frugal_rates(binary, threads, train_batches, test_samples, workdir):
    # frugal has no separate warm-up: its first batch counts in train_samples_per_s, which slightly
    # understates frugal's rate; it trains the same train_batches + 1 batches as snnTorch does.
    run = os.path.join(workdir, f"scnn_{threads}")
    t = frugal(binary, ["train", CONFIG, "--set", "epochs=1", "--set", f"train_limit={(train_batches + 1) * BATCH}",
                        "--set", "test_limit=1", "--threads", str(threads), "--out", run])
    e = frugal(binary, ["eval", os.path.join(run, "model.safetensors"), "--test-limit", str(test_samples),
                        "--batch-size", str(EVAL_BATCH), "--threads", str(threads)])
    return t["train_samples_per_s"], e["samples_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frugal", default=os.path.join(ROOT, "build/release/frugal"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--train-batches", type=int, default=10, help="timed training batches of 128 (default 10)")
    ap.add_argument("--test-samples", type=int, default=1024, help="timed inference images (default 1024)")
    ap.add_argument("--sizes", default="512,4096", help="Linear+LIF neuron counts (default 512,4096)")
    ap.add_argument("--steps", type=int, default=500, help="Linear+LIF time steps (default 500)")
    ap.add_argument("--batch", type=int, default=16, help="Linear+LIF batch (default 16)")
    ap.add_argument("--repeats", type=int, default=2, help="timed Linear+LIF passes, best reported (default 2)")
    ap.add_argument("--venv", default="/tmp/frugal-venv-snntorch", help="where snnTorch is installed when missing")
    ap.add_argument("--snntorch-version", default="0.9.4")
    ap.add_argument("--json", action="store_true", help="also print all measurements as one JSON line")
    args = ap.parse_args()
    ensure_snntorch(args.venv, args.snntorch_version)
    import torch
    import snntorch as snn

    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    print(f"snnTorch {snn.__version__} on PyTorch {torch.__version__}; ratios are frugal / snnTorch "
          f"(higher: frugal faster)", flush=True)
    with tempfile.TemporaryDirectory(prefix="frugal_bench_snn_") as work:
        for t in [int(s) for s in args.threads.split(",")]:
            f_train, f_infer = frugal_rates(args.frugal, t, args.train_batches, args.test_samples, work)
            p_train, p_infer = snntorch_rates(t, args.train_batches, args.test_samples)
            row = {"threads": t, "frugal_train_samples_per_s": f_train, "snntorch_train_samples_per_s": p_train,
                   "train_ratio": f_train / p_train, "frugal_infer_samples_per_s": f_infer,
                   "snntorch_infer_samples_per_s": p_infer, "infer_ratio": f_infer / p_infer, "linear_lif": []}
            print(f"threads {t}: training  frugal {f_train:8.1f} samples/s, snnTorch {p_train:8.1f}: "
                  f"{row['train_ratio']:.2f}x", flush=True)
            print(f"threads {t}: inference frugal {f_infer:8.1f} samples/s, snnTorch {p_infer:8.1f}: "
                  f"{row['infer_ratio']:.2f}x", flush=True)
            micro = frugal(args.frugal, ["bench", "lif", "--sizes", args.sizes, "--steps", str(args.steps),
                                         "--batch", str(args.batch), "--repeats", str(args.repeats),
                                         "--threads", str(t)])
            for n, fr in zip(sizes, micro["rows"]):
                p = snntorch_linear_lif(t, n, args.steps, args.batch, args.repeats)
                row["linear_lif"].append({"n": n, "frugal_s": fr["seconds"], "snntorch_s": p, "ratio": p / fr["seconds"]})
                print(f"threads {t}: Linear+LIF n {n} T {args.steps} batch {args.batch} forward+backward  "
                      f"frugal {fr['seconds']:.4f} s, snnTorch {p:.4f} s: {p / fr['seconds']:.2f}x", flush=True)
            rows.append(row)
    if args.json:
        print(json.dumps({"snntorch": snn.__version__, "torch": torch.__version__, "rows": rows}))


if __name__ == "__main__":
    sys.exit(main())
