#!/usr/bin/env python3
"""How the training recipe of export_fmnist.py's nets decides what LTB's 12 calibration updates
leave clipped (issue 5, docs/conversion.md). Trains the VGG and/or ResNet of export_fmnist.py
with one recipe variant (epochs, AdamW weight decay, label smoothing; Adam + one-cycle as there)
and prints, as one JSON line per net, the ANN's test accuracy (all 10000 and the first 1000 test
images) and the accuracy on the first 1000 of the ANN clipped at the LTB thresholds (Bu et al.,
CVPR 2025: θ_c starts at 0, θ_c += 2·mean over N, H, W of (x − θ_c)⁺ per calibration batch, the
forward pass clipped at the new θ_c; sites after max-pools as `frugal convert` places them) for
12 × 100, 48 × 25 and 48 × 100 calibration images (the first training images).

    OMP_NUM_THREADS=1 /usr/bin/python3 bench/peers/ltb_recipes.py [--epochs 2] [--wd 0.05] \\
        [--ls 0.1] [--models vgg,resnet]
"""
import argparse, json, os, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_fmnist as E  # noqa: E402


class Sites:
    """The nets' activations: ReLU while training; LTB calibration or clipping at the thresholds."""

    def __init__(self):
        self.mode, self.theta = "relu", {}

    def __call__(self, i, x):
        if self.mode == "relu":
            return F.relu(x)
        if self.mode == "ltb":
            t = self.theta.get(i, torch.zeros(1, x.shape[1], *([1] * (x.dim() - 2))))
            dims = [0] + list(range(2, x.dim()))
            self.theta[i] = t + 2 * (x - t).clamp(min=0).mean(dims, keepdim=True)
        return torch.minimum(F.relu(x), self.theta[i])


S = Sites()


class Vgg(E.Vgg):
    # max_pool(relu(x)) = relu(max_pool(x)): the site sees the pooled values, as in frugal convert
    def forward(self, x):
        x = S(0, F.max_pool2d(self.c1(x), 2))
        x = S(1, self.c2(x))
        x = S(2, F.max_pool2d(self.c3(x), 2))
        x = S(3, self.c4(x))
        return self.fc(self.drop(x.view(x.size(0), -1)))


class Block(E.Block):
    def forward(self, x):
        s = x if self.short is None else self.short(x)
        return S(self.k + 1, self.b(S(self.k, self.a(x))) + s)


class ResNet(E.ResNet):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 32, 1))
        for j, b in enumerate(self.blocks):
            b.k = 1 + 2 * j

    def forward(self, x):
        x = S(0, F.max_pool2d(self.stem(x), 2))
        x = self.blocks(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return sum((model(x[k:k + 1000]).argmax(1) == y[k:k + 1000]).sum().item() for k in range(0, len(x), 1000)) / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--wd", type=float, default=0.0, help="AdamW weight decay (0: Adam, as export_fmnist.py)")
    ap.add_argument("--ls", type=float, default=0.0, help="label smoothing")
    ap.add_argument("--lr", type=float, default=4e-3, help="one-cycle peak learning rate")
    ap.add_argument("--models", default="vgg,resnet")
    args = ap.parse_args()
    torch.set_num_threads(1)
    xtr, ytr = E.load("train")
    xte, yte = E.load("t10k")
    for name in args.models.split(","):
        torch.manual_seed(0)
        model = {"vgg": Vgg, "resnet": ResNet}[name]()
        S.mode = "relu"
        t0 = time.time()
        torch.manual_seed(0)
        params = model.parameters()
        opt = torch.optim.AdamW(params, args.lr / 2, weight_decay=args.wd) if args.wd else torch.optim.Adam(params, args.lr / 2)
        steps = args.epochs * ((len(xtr) + 127) // 128)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=steps)
        for _ in range(args.epochs):
            model.train()
            order = torch.randperm(len(xtr))
            for k in range(0, len(xtr), 128):
                idx = order[k:k + 128]
                loss = F.cross_entropy(model(xtr[idx]), ytr[idx], label_smoothing=args.ls)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        res = {"model": name, "epochs": args.epochs, "wd": args.wd, "ls": args.ls, "ann_10000": accuracy(model, xte, yte),
               "ann_1000": accuracy(model, xte[:1000], yte[:1000]), "train_seconds": round(time.time() - t0)}
        for nb, bs in ((12, 100), (48, 25), (48, 100)):
            S.mode, S.theta = "ltb", {}
            model.eval()
            with torch.no_grad():
                for b in range(nb):
                    model(xtr[b * bs:(b + 1) * bs])
            S.mode = "clip"
            res[f"clipped_{nb}x{bs}"] = accuracy(model, xte[:1000], yte[:1000])
        S.mode = "relu"
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
