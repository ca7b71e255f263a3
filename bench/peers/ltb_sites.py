#!/usr/bin/env python3
"""Where LTB's thresholds clip on the committed Fashion-MNIST nets (issue 5, docs/conversion.md).
For 12 × 100, 48 × 25 and 200 × 24 calibration images (the first training images) it runs the
LTB rule of Bu et al. (CVPR 2025) in PyTorch on the ONNX nets rebuilt by convert.py, and prints on
the first 1000 test images: the ANN, the ANN clipped at every site, the ANN clipped at one site
only (per site), and per site the fraction of activations above θ, the fraction of the activation
mass above θ, and the fraction of activations that are positive.

    OMP_NUM_THREADS=1 /usr/bin/python3 bench/peers/ltb_sites.py
"""
import os, sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert as C  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    torch.set_num_threads(1)
    xtr, _ = C.load("train", 4800)
    x, y = C.load("t10k", 1000)
    for name, cls in (("vgg", C.Vgg), ("resnet", C.ResNet)):
        m = C.from_onnx(os.path.join(ROOT, f"tests/data/convert/fmnist_{name}.onnx"), cls())
        sites = C.neuron_sites(name, m)
        for nb, bs in ((12, 100), (48, 25), (200, 24)):
            th, mode, only, stats = {}, ["calibrate"], [None], {}

            def hook(mod, inp, out):
                t = th.get(mod, torch.zeros(1, out.shape[1], 1, 1))
                if mode[0] == "calibrate":
                    t = t + 2 * (out - t).clamp(min=0).mean((0, 2, 3), keepdim=True)
                    th[mod] = t
                elif mode[0] == "stats":
                    s = stats.setdefault(mod, [0.0, 0.0, 0.0])
                    s[0] = float((out > t).float().mean())
                    s[1] = float((out - t).clamp(min=0).sum() / out.sum().clamp(min=1e-9))
                    s[2] = float((out > 0).float().mean())
                    return out
                elif mode[0] == "one" and mod is not only[0]:
                    return out
                return torch.minimum(out, t)

            handles = [s.register_forward_hook(hook) for s in sites]
            with torch.no_grad():
                for b in range(nb):
                    m(xtr[b * bs:(b + 1) * bs])
                mode[0] = "clip"
                clipped = C.accuracy_ann(m, x, y)
                mode[0] = "stats"
                m(x)
                per_site = []
                for s in sites:
                    mode[0], only[0] = "one", s
                    per_site.append(round(C.accuracy_ann(m, x, y), 3))
            for h in handles:
                h.remove()
            print(f"{name} {nb}x{bs}: ANN {C.accuracy_ann(m, x, y):.3f}, clipped at all sites {clipped:.3f}, "
                  f"at one site only {per_site}")
            for k, label in enumerate(("values above θ", "mass above θ", "positive")):
                print(f"    {label}: {[round(stats[s][k], 3) for s in sites]}", flush=True)


if __name__ == "__main__":
    main()
