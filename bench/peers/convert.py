#!/usr/bin/env python3
"""ANN-to-SNN conversion of the same Fashion-MNIST CNNs with SpikingJelly's ann2snn and with
`frugal convert`, accuracies side by side (issue 5).

The nets are the ONNX files `frugal convert` is measured on (tests/data/convert/fmnist_{vgg,
resnet}.onnx, exported by export_fmnist.py; the export folded BatchNorm into the convolutions).
This script rebuilds them as PyTorch modules with those weights (one nn.ReLU per call site, so
SpikingJelly's FX recipes find every site; nn.MaxPool2d after the ReLU, which SpikingJelly's LTB
recipe moves before the neuron as frugal does), checks that they give the ONNX file's ANN accuracy,
and converts them with SpikingJelly's LocalThresholdBalancingRecipe (Bu et al., CVPR 2025: the
same rule θ_c += 2·mean((x − θ_c)⁺), same half-threshold IF neurons) and, with --robust, its
RateCodingRecipe at the 99.9th percentile. Both tools calibrate on the same first
calib-batches × calib-batch-size training images and score the first --test-limit test images;
SpikingJelly's delay is its estimate_delay_start, frugal's its own `--delay auto`.

SpikingJelly is installed into a venv with --system-site-packages (Debian's torch 1.13 and numpy;
--no-deps, because its declared dependencies pull a CUDA build of torch 2.x):

    /usr/bin/python3 -m venv --system-site-packages /tmp/venv-sj
    /tmp/venv-sj/bin/pip install --no-deps spikingjelly tqdm loguru
    /tmp/venv-sj/bin/python bench/peers/convert.py --frugal build/release/frugal \
        [--models vgg,resnet] [--timesteps 32] [--test-limit 1000] [--calib-batches 12] \
        [--calib-batch-size 100] [--robust] [--threads 2]

Prints one table row per model, tool and method: ANN, SNN accuracy per T, delay.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

DATA = "/usr/share/datasets/fashion-mnist"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(kind, limit):
    with gzip.open(f"{DATA}/{kind}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:limit].astype(np.float32) / 255
    with gzip.open(f"{DATA}/{kind}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:limit].astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def conv(cin, cout, k=3, stride=1, pad=1):
    return nn.Conv2d(cin, cout, k, stride, pad, bias=True)


class Vgg(nn.Module):
    """export_fmnist.Vgg with BatchNorm folded (as in the ONNX file); dropout is the identity."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.c3, self.c4 = conv(1, 16), conv(16, 32), conv(32, 32), conv(32, 64)
        self.r1, self.r2, self.r3, self.r4 = nn.ReLU(), nn.ReLU(), nn.ReLU(), nn.ReLU()
        self.p1, self.p3 = nn.MaxPool2d(2), nn.MaxPool2d(2)
        self.fc = nn.Linear(64 * 7 * 7, 10)

    def convs(self):
        return [self.c1, self.c2, self.c3, self.c4]

    def forward(self, x):
        x = self.p1(self.r1(self.c1(x)))
        x = self.r2(self.c2(x))
        x = self.p3(self.r3(self.c3(x)))
        x = self.r4(self.c4(x))
        return self.fc(torch.flatten(x, 1))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a, self.b = conv(cin, cout, 3, stride), conv(cout, cout)
        self.ra, self.rb = nn.ReLU(), nn.ReLU()
        self.short = conv(cin, cout, 1, stride, 0) if stride != 1 or cin != cout else None

    def convs(self):
        return [self.a, self.b] + ([self.short] if self.short is not None else [])

    def forward(self, x):
        s = x if self.short is None else self.short(x)
        return self.rb(self.b(self.ra(self.a(x))) + s)


class ResNet(nn.Module):
    """export_fmnist.ResNet with BatchNorm folded."""

    def __init__(self):
        super().__init__()
        self.stem, self.rs, self.ps = conv(1, 16), nn.ReLU(), nn.MaxPool2d(2)
        self.b1, self.b2, self.b3 = Block(16, 16, 1), Block(16, 32, 2), Block(32, 32, 1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def convs(self):
        return [self.stem] + self.b1.convs() + self.b2.convs() + self.b3.convs()

    def forward(self, x):
        x = self.ps(self.rs(self.stem(x)))
        x = self.b3(self.b2(self.b1(x)))
        return self.fc(torch.flatten(self.gap(x), 1))


def from_onnx(path, model):
    """Copies the ONNX file's Conv and Gemm weights into `model`: the ONNX convs are taken in graph
    order, each going to the first module conv of the same weight shape not yet filled (the only
    reordering ONNX makes here is a block's 1x1 shortcut before or after its second conv)."""
    g = onnx.load(path).graph
    init = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    todo = model.convs()
    for node in g.node:
        if node.op_type == "Conv":
            w, b = init[node.input[1]], init[node.input[2]]
            m = next(c for c in todo if tuple(c.weight.shape) == w.shape)
            todo.remove(m)
            m.weight.data = torch.from_numpy(w.copy())
            m.bias.data = torch.from_numpy(b.copy())
        elif node.op_type == "Gemm":
            model.fc.weight.data = torch.from_numpy(init[node.input[1]].copy())
            model.fc.bias.data = torch.from_numpy(init[node.input[2]].copy())
    assert not todo, f"{path}: {len(todo)} convolutions not found in the file"
    return model.eval()


def accuracy_ann(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def accuracy_snn(snn, x, y, budgets, delay_of):
    """Accuracy per budget T: readout summed over steps delay_of(T)..T-1, one run of max(T) steps."""
    from spikingjelly.activation_based import functional
    T = max(budgets)
    starts = {t: delay_of(t) for t in budgets}
    correct = {t: 0 for t in budgets}
    with torch.no_grad():
        for k in range(0, len(x), 250):
            xb, yb = x[k:k + 250], y[k:k + 250]
            functional.reset_net(snn)
            sums = {t: 0 for t in budgets}
            for step in range(T):
                out = snn(xb)
                for t in budgets:
                    if starts[t] <= step < t:
                        sums[t] = sums[t] + out
            for t in budgets:
                correct[t] += int((sums[t].argmax(1) == yb).sum())
    return {t: correct[t] / len(x) for t in budgets}, starts


def ltb_clipped_accuracy(model, sites, calib, x, y):
    """The LTB rule written out in PyTorch (as the authors' SpikingNeuron4d.optimize: θ += 2·mean over
    N, H, W of (x − θ)⁺, the output clamped at the new θ), one update per calibration batch; returns
    the accuracy of the ANN clipped at the final thresholds, the SNN's limit as T grows."""
    th, calibrating = {}, [True]

    def hook(module, inputs, out):
        t = th.get(module, torch.zeros(1, out.shape[1], 1, 1))
        if calibrating[0]:
            t = t + 2 * (out - t).clamp(min=0).mean((0, 2, 3), keepdim=True)
            th[module] = t
        return torch.minimum(out, t)

    handles = [s.register_forward_hook(hook) for s in sites]
    with torch.no_grad():
        for batch in calib:
            model(batch)
        calibrating[0] = False
        acc = accuracy_ann(model, x, y)
    for h in handles:
        h.remove()
    return acc


def neuron_sites(name, model):
    """The modules whose outputs are the neuron sites: a ReLU, or the max-pool right after it."""
    if name == "vgg":
        return [model.p1, model.r2, model.p3, model.r4]
    return [model.ps] + [r for b in (model.b1, model.b2, model.b3) for r in (b.ra, b.rb)]


def plain_if_step(self, x):
    """SpikingJelly's IFNode / HalfThresholdIFNode step (v += x, spike when v >= v_threshold, soft
    reset when v_reset is None, else back to v_reset) in plain torch: its own fused kernels import
    torch >= 2 APIs. The membrane after reset() (0, or v_threshold / 2) is SpikingJelly's."""
    if not isinstance(self.v, torch.Tensor):
        self.v = torch.full_like(x, float(self.v))
    self.v = self.v + x
    spike = (self.v >= self.v_threshold).to(x.dtype)
    if self.v_reset is None:
        self.v = self.v - spike * self.v_threshold
    else:
        self.v = torch.where(spike > 0, torch.full_like(self.v, self.v_reset), self.v)
    return spike


def spikingjelly_rows(name, make, path, calib, x, y, budgets, robust):
    from spikingjelly.activation_based import ann2snn, neuron
    if int(torch.__version__.split(".")[0]) < 2:
        neuron.IFNode.single_step_forward = plain_if_step
        neuron.HalfThresholdIFNode.single_step_forward = plain_if_step
    recipes = [("ltb", lambda: ann2snn.LocalThresholdBalancingRecipe(dataloader=calib, fuse_flag=False))]
    if robust:
        recipes.append(("robust", lambda: ann2snn.RateCodingRecipe(
            dataloader=calib, mode="99.9%", fuse_flag=False, channel_wise=False, pre_spike_maxpool=True,
            half_threshold=True)))
    rows = []
    for method, recipe in recipes:
        snn = ann2snn.Converter(recipe=recipe(), device="cpu").convert(from_onnx(path, make()))
        acc, starts = accuracy_snn(snn, x, y, budgets,
                                   lambda t: ann2snn.estimate_delay_start(snn, calib, "cpu", t))
        rows.append((name, "spikingjelly", method, acc, starts))
    return rows


def frugal_rows(args, name, path, budgets, robust):
    methods = "ltb,robust" if robust else "ltb"
    with tempfile.TemporaryDirectory() as out:
        r = subprocess.run([args.frugal, "convert", path, "--calib-data", "fmnist", "--method", methods,
                            "--timesteps", ",".join(map(str, budgets)), "--test-limit", str(args.test_limit),
                            "--calib-batches", str(args.calib_batches), "--calib-batch-size",
                            str(args.calib_batch_size), "--out", out, "--json"],
                           capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"frugal convert {path} failed ({r.returncode}): {r.stderr[-2000:]}")
    j = json.loads(r.stdout)
    rows = []
    for method in methods.split(","):
        m = j["methods"][method]
        acc = {t: m["snn_accuracy"][str(t)] for t in budgets}
        rows.append((name, "frugal", method, acc, {t: m["delay_steps"] for t in budgets}, m["ann_accuracy"],
                     m["clipped_ann_accuracy"]))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frugal", default=os.path.join(ROOT, "build/release/frugal"))
    ap.add_argument("--models", default="vgg,resnet")
    ap.add_argument("--timesteps", default="32")
    ap.add_argument("--test-limit", type=int, default=1000)
    ap.add_argument("--calib-batches", type=int, default=12)
    ap.add_argument("--calib-batch-size", type=int, default=100)
    ap.add_argument("--robust", action="store_true", help="also robust-norm (99.9th percentile) in both tools")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")  # SpikingJelly's calibration loops draw progress bars
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    budgets = [int(t) for t in args.timesteps.split(",")]
    xtr, _ = load("train", args.calib_batches * args.calib_batch_size)
    calib = [xtr[k:k + args.calib_batch_size] for k in range(0, len(xtr), args.calib_batch_size)]
    x, y = load("t10k", args.test_limit or 10000)
    print(f"{len(x)} test images, {len(calib)} x {args.calib_batch_size} calibration images; T = {budgets}",
          flush=True)
    head = f"{'model':8} {'tool':13} {'method':7} {'ANN':>7} " + " ".join(f"{'T=' + str(t):>7}" for t in budgets) + \
        "  delay"
    print(head)
    for name in args.models.split(","):
        path = os.path.join(ROOT, "tests/data/convert", f"fmnist_{name}.onnx")
        make = {"vgg": Vgg, "resnet": ResNet}[name]
        ann = accuracy_ann(from_onnx(path, make()), x, y)
        frows = frugal_rows(args, name, path, budgets, args.robust)
        if abs(frows[0][5] - ann) > 0.5 / len(x):
            sys.exit(f"{name}: the PyTorch rebuild scores {ann:.4f}, frugal's ANN {frows[0][5]:.4f}: not the same net")
        ref_model = from_onnx(path, make())
        ref = ltb_clipped_accuracy(ref_model, neuron_sites(name, ref_model), calib, x, y)
        print(f"{name}: ANN clipped at the LTB thresholds: frugal {100 * frows[0][6]:.2f}, "
              f"the rule in PyTorch {100 * ref:.2f}", flush=True)
        for n, tool, method, acc, starts, *_ in frows + spikingjelly_rows(name, make, path, calib, x, y, budgets,
                                                                         args.robust):
            cells = " ".join(f"{100 * acc[t]:7.2f}" for t in budgets)
            delays = ",".join(str(starts[t]) for t in budgets)
            print(f"{n:8} {tool:13} {method:7} {100 * ann:7.2f} {cells}  {delays}", flush=True)


if __name__ == "__main__":
    main()
