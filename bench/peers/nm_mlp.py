#!/usr/bin/env python3
"""Training step of the MLP 784-2048-2048-10 at batch 256 (Adam): PyTorch's dense step against
frugal's dense and N:M (BDWP) steps from `frugal bench nm-step`, same thread count, on the same
machine. PyTorch is timed before and after frugal and the median of all its steps is used, so
load that comes and goes hits both. Prints the step times and the ratios PyTorch dense / frugal.

    /usr/bin/python3 bench/peers/nm_mlp.py [--frugal build/release/frugal] [--threads 1] [--steps 10]
        [--config examples/fmnist_mlp_2to8.toml]
"""
import argparse, json, os, statistics, subprocess, time

import torch
import torch.nn as nn

from blas_threads import set_blas_threads

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def torch_step_ms(steps, batch):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 2048), nn.ReLU(), nn.Linear(2048, 2048), nn.ReLU(),
                          nn.Linear(2048, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(batch, 1, 28, 28)
    y = torch.arange(batch) % 10
    wall, cpu = [], []
    for i in range(steps + 2):  # two warm-up steps, as frugal's bench
        start, start_cpu = time.perf_counter(), time.process_time()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if i >= 2:
            wall.append((time.perf_counter() - start) * 1e3)
            cpu.append((time.process_time() - start_cpu) * 1e3)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frugal", default=os.path.join(ROOT, "build/release/frugal"))
    ap.add_argument("--config", default=os.path.join(ROOT, "examples/fmnist_mlp_2to8.toml"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    set_blas_threads(args.threads)
    torch_ms, torch_cpu = torch_step_ms(args.steps, args.batch)
    out = subprocess.run([args.frugal, "bench", "nm-step", args.config, "--batch", str(args.batch), "--steps",
                          str(args.steps), "--threads", str(args.threads), "--json"],
                         check=True, capture_output=True, text=True)
    frugal = json.loads(out.stdout)
    more_ms, more_cpu = torch_step_ms(args.steps, args.batch)
    mode = f'{frugal["sparsity_mode"]} {frugal["sparsity"]}'
    print(f"MLP 784-2048-2048-10, batch {args.batch}, {args.threads} thread(s), medians of {args.steps} steps "
          f"(PyTorch {torch.__version__}: {2 * args.steps}); wall ms, and process CPU ms (steadier under load)")
    for clock, key, peer in (("wall", "step_ms", torch_ms + more_ms), ("CPU ", "step_cpu_ms", torch_cpu + more_cpu)):
        t = statistics.median(peer)
        d, s = frugal["dense"][key], frugal["sparse"][key]
        print(f"  {clock} PyTorch dense  {t:9.2f} ms")
        print(f"  {clock} frugal dense   {d:9.2f} ms   PyTorch/frugal {t / d:5.2f}x")
        print(f"  {clock} frugal {mode:8s}{s:9.2f} ms   PyTorch/frugal {t / s:5.2f}x   frugal dense/{mode} {d / s:5.2f}x")


if __name__ == "__main__":
    main()
