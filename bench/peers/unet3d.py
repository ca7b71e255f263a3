#!/usr/bin/env python3
"""The U-Net of examples/unet3d_rev.toml (MBConv couplings, group norm, SiLU, SE, add skips) in
PyTorch, trained one step per volume size without and with torch.utils.checkpoint (one checkpoint
per level sequence, which keeps only each sequence's input like frugal's reversible net keeps only
its output). Each measurement runs in its own process: PyTorch on CPU has no allocator statistics,
so its step memory is the max RSS growth over the step plus the parameters and input, compared
with frugal's peak tracked bytes (`frugal bench memory`). Prints peak-memory and step-time ratios
at 1 and 2 threads:

    /usr/bin/python3 bench/peers/unet3d.py [--frugal build/release/frugal] [--sizes 16,24]
"""
import argparse, json, os, resource, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHANNELS, BLOCKS, EXPANSION, GROUPS = [16, 32, 64], [1, 2, 2], 4, 8


def build(torch, checkpointed):
    nn, F = torch.nn, torch.nn.functional
    from torch.utils.checkpoint import checkpoint

    class MBConv(nn.Module):
        def __init__(self, c):
            super().__init__()
            e = c * EXPANSION
            self.expand = nn.Conv3d(c, e, 1, bias=False)
            self.norm1 = nn.GroupNorm(min(GROUPS, e), e)
            self.depthwise = nn.Conv3d(e, e, 3, padding=1, groups=e, bias=False)
            self.norm2 = nn.GroupNorm(min(GROUPS, e), e)
            self.se_reduce, self.se_expand = nn.Conv3d(e, e // 4, 1), nn.Conv3d(e // 4, e, 1)
            self.project = nn.Conv3d(e, c, 1)
            nn.init.zeros_(self.project.weight)

        def forward(self, x):
            h = F.silu(self.norm1(self.expand(x)))
            h = F.silu(self.norm2(self.depthwise(h)))
            s = torch.sigmoid(self.se_expand(F.silu(self.se_reduce(F.adaptive_avg_pool3d(h, 1)))))
            return self.project(h * s)

    class Sequence(nn.Module):  # couplings y1 = x1 + F(x2), y2 = x2 + G(y1), stored by autograd
        def __init__(self, c, n):
            super().__init__()
            self.f = nn.ModuleList(MBConv(c // 2) for _ in range(n))
            self.g = nn.ModuleList(MBConv(c // 2) for _ in range(n))

        def forward(self, x):
            x1, x2 = x.chunk(2, 1)
            for f, g in zip(self.f, self.g):
                x1 = x1 + f(x2)
                x2 = x2 + g(x1)
            return torch.cat([x1, x2], 1)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            c, L = CHANNELS, len(CHANNELS)
            self.stem, self.head = nn.Conv3d(4, c[0], 3, padding=1), nn.Conv3d(c[0], 4, 1)
            self.enc = nn.ModuleList(Sequence(c[l], BLOCKS[l]) for l in range(L))
            self.dec = nn.ModuleList(Sequence(c[l], BLOCKS[l]) for l in range(L - 1))
            self.down = nn.ModuleList(nn.Conv3d(c[l], c[l + 1], 1, bias=False) for l in range(L - 1))
            self.up = nn.ModuleList(nn.Conv3d(c[l + 1], c[l], 1, bias=False) for l in range(L - 1))

        def run(self, seq, h):
            return checkpoint(seq, h, use_reentrant=False) if checkpointed else seq(h)

        def forward(self, x):
            h, skips = self.stem(x), []
            for l, seq in enumerate(self.enc):
                h = self.run(seq, h)
                if l + 1 < len(self.enc):
                    skips.append(h)
                    h = self.down[l](F.max_pool3d(h, 2))
            for l in reversed(range(len(self.dec))):
                h = F.interpolate(self.up[l](h), scale_factor=2, mode="trilinear", align_corners=False)
                h = self.run(self.dec[l], h + skips[l])
            return self.head(h)

    return UNet()


def dice_ce(torch, logits, labels):
    p = logits.softmax(1)
    ce = torch.nn.functional.cross_entropy(logits, labels)
    dice = 0
    for classes in ([1, 2, 3], [1, 3], [3]):  # WT, TC, ET
        pr = p[:, classes].sum(1)
        t = sum((labels == c).float() for c in classes)
        dice = dice + (2 * (pr * t).sum() + 1) / (pr.sum() + t.sum() + 1) / 3
    return ce + 1 - dice


def child(size, checkpointed, threads):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    net = build(torch, checkpointed)
    x = torch.randn(1, 4, size, size, size)
    labels = torch.randint(0, 4, (1, size, size, size))
    tensor_bytes = 4 * (sum(p.numel() for p in net.parameters()) + x.numel()) + 8 * labels.numel()
    rss_before = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    for step in range(2):  # the first step's RSS growth is its memory; the second is timed
        net.zero_grad(set_to_none=True)
        start = time.perf_counter()
        dice_ce(torch, net(x), labels).backward()
        seconds = time.perf_counter() - start
        if step == 0:
            max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"step_bytes": max_rss - rss_before + tensor_bytes, "max_rss": max_rss, "seconds": seconds}))


def measure(size, checkpointed, threads):
    # Blocks from 64 KiB up are mapped and unmapped by glibc, so RSS follows the live tensors.
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    out = subprocess.run([sys.executable, __file__, "--child", str(size), str(int(checkpointed)), str(threads)],
                         check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)


def frugal_rows(binary, sizes, threads):
    out = subprocess.run([binary, "bench", "memory", os.path.join(ROOT, "examples/unet3d_rev.toml"), "--sizes",
                          ",".join(map(str, sizes)), "--budget", "64GiB", "--max-width", "4", "--max-extra-blocks", "0",
                          "--threads", str(threads), "--json"], check=True, capture_output=True, text=True).stdout
    rows = {}
    for r in json.loads(out)["measurements"]:
        if r["search"] == "volume":
            rows[(r["size"], r["version"])] = r
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frugal", default=os.path.join(ROOT, "build/release/frugal"))
    ap.add_argument("--sizes", default="16,24")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(*a.child)
    sizes = [int(s) for s in a.sizes.split(",")]
    mib = 1 << 20
    print("threads size | torch plain MiB / s | torch ckpt MiB / s | frugal plain MiB / s | frugal rev MiB / s |"
          " torch/frugal plain mem, time | torch ckpt/frugal rev mem, time")
    for threads in [int(t) for t in a.threads.split(",")]:
        fr = frugal_rows(a.frugal, sizes, threads)
        for s in sizes:
            tp, tc = measure(s, False, threads), measure(s, True, threads)
            fp, fv = fr[(s, "plain")], fr[(s, "reversible")]
            print(f"{threads:7d} {s:4d} | {tp['step_bytes'] / mib:8.1f} {tp['seconds']:7.3f} |"
                  f" {tc['step_bytes'] / mib:8.1f} {tc['seconds']:7.3f} |"
                  f" {fp['peak_bytes'] / mib:8.1f} {fp['step_seconds']:7.3f} |"
                  f" {fv['peak_bytes'] / mib:8.1f} {fv['step_seconds']:7.3f} |"
                  f" {tp['step_bytes'] / fp['peak_bytes']:5.2f}x {tp['seconds'] / fp['step_seconds']:5.2f}x |"
                  f" {tc['step_bytes'] / fv['peak_bytes']:5.2f}x {tc['seconds'] / fv['step_seconds']:5.2f}x")


if __name__ == "__main__":
    main()
