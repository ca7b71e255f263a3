#!/usr/bin/env python3
"""Trains the two CNNs that `frugal convert` is measured on and exports them as ONNX (opset 13,
dynamic batch): a VGG-style net (conv-BN-ReLU stacks, max-pooling, x.view(x.size(0), -1) before
the classifier, dropout) and a ResNet-style net (residual Adds with identity and 1x1-conv
shortcuts, max-pooling after the stem, global average pooling). Both are small so that training
takes about a minute each on two cores. Writes <out>/fmnist_{vgg,resnet}.onnx and
<out>/fmnist_models.json with each net's PyTorch test accuracy.

    /usr/bin/python3 bench/peers/export_fmnist.py --out tests/data/convert [--epochs 2]
"""
import argparse, gzip, json, os, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def load(kind):
    with gzip.open(f"{DATA}/{kind}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    with gzip.open(f"{DATA}/{kind}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout))


class Vgg(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.c3, self.c4 = conv_bn(1, 16), conv_bn(16, 32), conv_bn(32, 32), conv_bn(32, 64)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(64 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.relu(self.c2(x))
        x = F.max_pool2d(F.relu(self.c3(x)), 2)
        x = F.relu(self.c4(x))
        return self.fc(self.drop(x.view(x.size(0), -1)))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.a, self.b = conv_bn(cin, cout, stride), conv_bn(cout, cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        s = x if self.short is None else self.short(x)
        return F.relu(self.b(F.relu(self.a(x))) + s)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(1, 16)
        self.blocks = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 32, 1))
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.stem(x)), 2)
        x = self.blocks(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return sum((model(x[k:k + 1000]).argmax(1) == y[k:k + 1000]).sum().item() for k in range(0, len(x), 1000)) / len(x)


def train(model, x, y, epochs, seed):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    steps = epochs * ((len(x) + 127) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 4e-3, total_steps=steps)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x))
        for k in range(0, len(x), 128):
            idx = order[k:k + 128]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    xtr, ytr = load("train")
    xte, yte = load("t10k")
    summary = {}
    for name, cls in (("vgg", Vgg), ("resnet", ResNet)):
        torch.manual_seed(0)
        model = cls()
        t0 = time.time()
        train(model, xtr, ytr, args.epochs, 0)
        acc = accuracy(model, xte, yte)
        path = os.path.join(args.out, f"fmnist_{name}.onnx")
        torch.onnx.export(model, xte[:2], path, opset_version=13, input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
        summary[name] = {"test_accuracy": acc, "train_seconds": round(time.time() - t0, 1), "epochs": args.epochs}
        print(f"{name}: test accuracy {acc:.4f}, {summary[name]['train_seconds']} s -> {path}", flush=True)
    with open(os.path.join(args.out, "fmnist_models.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
