#!/usr/bin/env python3
"""Round trip between frugal and the NIR reference implementation (the `nir` Python package, and
snnTorch's NIR exporter where it installs), for issue 9:

1. every file frugal exports (the three published fixtures imported and exported again) is read by
   nir.read, with nir's own type checks, and its node types, edges, shapes and parameters agree
   with frugal's saved model (safetensors tensors and JSON graph spec);
2. graphs written by nir.write (feed-forward LIF / IF / LI, a convolutional IF net with SumPool2d
   and a CubaLIF readout, a nested subgraph with a recurrent LIF loop) are imported and run by
   frugal, and give the spikes (membranes, for LI) of a NumPy simulation of the NIR neurons with
   forward Euler at dt = 1e-4 s, as docs/nir.md states them;
3. where snnTorch installs, a Leaky + Synaptic network exported by snntorch.export_to_nir gives the
   same spikes in frugal as in snnTorch; RLeaky and RSynaptic exports import and run (their
   spikes are not compared: snnTorch's recurrent neurons' reset to zero also clears the new input,
   which NIR's LIF does not).

Tolerance: spikes must be identical; LI membranes agree within 1e-4 relative. Inputs are random
spikes of amplitude 0.5..2 from a fixed seed.

The `nir` package goes into a venv with --system-site-packages (numpy and h5py come from Debian;
--no-deps because snnTorch's declared dependencies would pull a CUDA build of torch 2.x, while
Debian's torch 1.13 is enough for export_to_nir). Exit code 77 with a line "SKIP: reason" when the
package index cannot be reached or the install fails; 0 when everything agrees; 1 otherwise.

    /usr/bin/python3 tests/interop/nir_roundtrip.py --frugal build/release/frugal \
        --data tests/data/nir --work /tmp/nir_roundtrip [--venv /tmp/frugal-interop-venv]
"""
import argparse
import json
import os
import struct
import subprocess
import sys

SKIP = 77
DT = 1e-4


def bootstrap(args):
    """Re-runs this script inside a venv that has `nir` (and snnTorch when it installs)."""
    try:
        import nir  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get("FRUGAL_INTEROP_IN_VENV"):
        print("SKIP: the nir package does not import in the venv", flush=True)
        sys.exit(SKIP)
    py = os.path.join(args.venv, "bin", "python")
    if not os.path.exists(py):
        r = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", args.venv],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print("SKIP: cannot create a venv: " + r.stderr.strip()[-300:], flush=True)
            sys.exit(SKIP)
    pip = [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--timeout", "30",
           "--retries", "1", "--no-deps"]
    r = subprocess.run(pip + ["nir"], capture_output=True, text=True)
    if r.returncode != 0:
        print("SKIP: pip install nir failed (package index unreachable?): " + r.stderr.strip()[-300:], flush=True)
        sys.exit(SKIP)
    # snnTorch is optional: its part is skipped with a printed reason when this fails.
    r = subprocess.run(pip + ["snntorch", "nirtorch"], capture_output=True, text=True)
    if r.returncode != 0:
        print("note: pip install snntorch nirtorch failed: " + r.stderr.strip()[-300:], flush=True)
    env = dict(os.environ, FRUGAL_INTEROP_IN_VENV="1")
    sys.exit(subprocess.run([py, os.path.abspath(__file__)] + sys.argv[1:], env=env).returncode)


def frugal(args, *argv):
    r = subprocess.run([args.frugal] + [str(a) for a in argv], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"frugal {' '.join(map(str, argv))} exited {r.returncode}: {r.stderr.strip()}")
    return r


def read_safetensors(path):
    """frugal's model file: tensors by name and the graph spec from the metadata."""
    import numpy as np
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__")
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", name
        a, b = info["data_offsets"]
        tensors[name] = np.frombuffer(blob[8 + n + a:8 + n + b], np.float32).reshape(info["shape"])
    return tensors, json.loads(meta["frugal_model"])


class Checker:
    def __init__(self):
        self.failures = 0

    def expect(self, ok, what):
        if not ok:
            self.failures += 1
            print("FAIL: " + what, flush=True)

    def close(self, got, want, what, rtol=1e-6):
        import numpy as np
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        ok = got.size == want.size and np.allclose(got.reshape(-1), want.reshape(-1), rtol=rtol, atol=0)
        self.expect(ok, f"{what}: {got.reshape(-1)[:4]} != {want.reshape(-1)[:4]}")


NIR_TYPE = {"conv2d": "Conv2d", "lif": "LIF", "cuba_lif": "CubaLIF", "if": "IF", "sumpool": "SumPool2d",
            "avgpool": "AvgPool2d", "flatten": "Flatten", "scale": "Scale", "threshold": "Threshold"}


def check_export(args, ck, fixture):
    """frugal import fixture -> frugal export -> nir.read, compared with frugal's saved model."""
    import nir
    import numpy as np
    base = os.path.join(args.work, os.path.splitext(fixture)[0])
    frugal(args, "import", os.path.join(args.data, fixture), "--out", base + ".safetensors")
    frugal(args, "export", base + ".safetensors", "--nir", base + ".out.nir")
    graph = nir.read(base + ".out.nir")  # nir's type checks run here
    tensors, spec = read_safetensors(base + ".safetensors")
    nodes = spec["nodes"]
    names = [n["name"].replace("/", ".") for n in nodes]
    ck.expect(set(graph.nodes) == set(names), f"{fixture}: node names {sorted(graph.nodes)} != {sorted(names)}")
    want_edges = {(names[i], names[k]) for k, n in enumerate(nodes) for i in n["inputs"]}
    ck.expect(set(map(tuple, graph.edges)) == want_edges, f"{fixture}: edges differ")
    for k, n in enumerate(nodes):
        node, name, kind = graph.nodes.get(names[k]), n["name"], n["kind"]
        if node is None:
            continue
        where = f"{fixture}: node {names[k]} ({kind})"
        t = {key[len(name) + 1:]: v for key, v in tensors.items() if key.startswith(name + ".")}
        typename = type(node).__name__
        if kind == "identity":
            want = "Input" if k == 0 else "Output"
            ck.expect(typename == want, f"{where}: type {typename}, expected {want}")
            io_type = node.input_type if k == 0 else node.output_type
            ck.expect(list(next(iter(io_type.values()))) == n["shape"], f"{where}: shape {io_type} != {n['shape']}")
            continue
        if kind == "linear":
            want = "Affine" if n["bias"] else "Linear"
        else:
            want = NIR_TYPE.get(kind, kind)
        ck.expect(typename == want, f"{where}: type {typename}, expected {want}")
        ck.expect(int(np.prod(next(iter(node.output_type.values())))) == int(np.prod(n["shape"])),
                  f"{where}: output type {node.output_type} vs frugal shape {n['shape']}")
        if kind in ("linear", "conv2d"):
            ck.close(node.weight, t["weight"], where + " weight", rtol=0)
            if n["bias"]:
                ck.close(node.bias, t["bias"], where + " bias", rtol=0)
        elif kind == "lif":
            tau = DT / (1 - t["beta"].astype(np.float64))
            ck.close(node.tau, tau, where + " tau")
            ck.close(node.r, tau / DT, where + " r")
            ck.close(node.v_threshold, t["threshold"], where + " v_threshold")
            ck.expect(not np.any(node.v_leak), where + " v_leak is not 0")
        elif kind == "cuba_lif":
            tau_syn = DT / (1 - t["alpha"].astype(np.float64))
            tau_mem = DT / (1 - t["beta"].astype(np.float64))
            ck.close(node.tau_syn, tau_syn, where + " tau_syn")
            ck.close(node.tau_mem, tau_mem, where + " tau_mem")
            ck.close(node.w_in, tau_syn / DT, where + " w_in")
            ck.close(node.v_threshold, t["threshold"], where + " v_threshold")
        elif kind == "if":
            ck.close(node.v_threshold, t["threshold"], where + " v_threshold")
            ck.expect(np.all(node.r == 1), where + " r is not 1")
    print(f"ok: {fixture}: frugal's export reads in nir ({len(graph.nodes)} nodes, {len(graph.edges)} edges)", flush=True)


# A NumPy simulation of NIR graphs, forward Euler at DT, neurons as docs/nir.md maps them.

def conv2d(x, w, b, stride, pad):
    import numpy as np
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, o, oh, ow)) + b.reshape(1, o, 1, 1)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
            y += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return y


def sum_pool(x, k):
    n, c, h, w = x.shape
    return x[:, :, :h // k * k, :w // k * k].reshape(n, c, h // k, k, w // k, k).sum(axis=(3, 5))


class Neuron:
    """State of one NIR neuron node; step(I) returns its output for one time step."""

    def __init__(self, node, shape, batch):
        import numpy as np
        self.node, self.kind = node, type(node).__name__
        self.v = np.zeros((batch,) + tuple(shape))
        self.i = np.zeros_like(self.v)
        self.spiked = np.zeros(self.v.shape, bool)

    def step(self, x):
        import numpy as np
        n = self.node
        if self.kind == "LIF":
            self.v = self.v + DT / n.tau * (n.v_leak - self.v + n.r * x)
            s = self.v > n.v_threshold
            self.v = np.where(s, 0.0, self.v)
            return s.astype(np.float64)
        if self.kind == "IF":
            self.v = self.v + n.r * x
            s = self.v > n.v_threshold
            self.v = self.v - s * n.v_threshold  # reset by subtraction, as snnTorch's importer
            return s.astype(np.float64)
        if self.kind == "LI":
            self.v = self.v + DT / n.tau * (n.v_leak - self.v + n.r * x)
            return self.v.copy()
        if self.kind == "CubaLIF":
            # snnTorch Synaptic with reset to zero (docs/nir.md): the synaptic current keeps its
            # value, the membrane of the step after a spike is zero.
            self.i = self.i + DT / n.tau_syn * (-self.i + n.w_in * x)
            v = self.v + DT / n.tau_mem * (n.v_leak - self.v + n.r * self.i)
            self.v = np.where(self.spiked, 0.0, v)
            self.spiked = self.v > n.v_threshold
            return self.spiked.astype(np.float64)
        raise ValueError(self.kind)


def simulate(graph, x):
    """x [T, N, ...] through a flat NIR graph; an edge into a node from a node later in `order`
    (a recurrent loop) carries the previous step's value."""
    import numpy as np
    order = topo_order(graph)
    pos = {name: k for k, name in enumerate(order)}
    prev = {name: None for name in order}
    neurons = {}
    out = []
    for t in range(x.shape[0]):
        val = {}
        for name in order:
            node = graph.nodes[name]
            kind = type(node).__name__
            if kind == "Input":
                val[name] = x[t].astype(np.float64)
                continue
            ins = []
            for a, b in graph.edges:
                if b != name:
                    continue
                if pos[a] < pos[name]:
                    ins.append(val[a])
                elif prev[a] is not None:
                    ins.append(prev[a])
            v = sum(ins) if ins else 0.0
            if kind in ("Output", "Pass"):
                val[name] = v
            elif kind == "Affine":
                val[name] = v @ node.weight.T + node.bias
            elif kind == "Linear":
                val[name] = v @ node.weight.T
            elif kind == "Conv2d":
                val[name] = conv2d(v, node.weight, node.bias, int(np.ravel(node.stride)[0]), int(np.ravel(node.padding)[0]))
            elif kind == "SumPool2d":
                val[name] = sum_pool(v, int(np.ravel(node.kernel_size)[0]))
            elif kind == "Flatten":
                val[name] = v.reshape(v.shape[0], -1)
            else:
                if name not in neurons:
                    neurons[name] = Neuron(node, v.shape[1:], v.shape[0])
                val[name] = neurons[name].step(v)
        for name in order:
            prev[name] = val[name]
        out.append(val["output"])
    return np.stack(out)


def topo_order(graph):
    """Depth-first from the Input; edges that close a cycle are left out of the order."""
    order, state = [], {}

    def visit(name):
        state[name] = 1
        for a, b in graph.edges:
            if a == name and state.get(b) is None:
                visit(b)
        state[name] = 2
        order.append(name)

    visit("input")
    return order[::-1]


def random_spikes(rng, shape):
    import numpy as np
    return ((rng.random(shape) < 0.4) * rng.uniform(0.5, 2.0, shape)).astype(np.float32)


def written_graphs(rng):
    import nir
    import numpy as np

    def u(*shape, lo=-1.0, hi=1.0):
        return rng.uniform(lo, hi, shape).astype(np.float32)

    def full(shape, v):
        return np.full(shape, v, np.float32)

    ff = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([6])),
               "fc1": nir.Affine(weight=u(10, 6), bias=u(10, lo=0, hi=0.2)),
               "lif": nir.LIF(tau=u(10, lo=2e-4, hi=2e-3), r=u(10, lo=5, hi=20), v_leak=full(10, 0),
                              v_threshold=u(10, lo=0.5, hi=1.5)),
               "fc2": nir.Linear(weight=u(8, 10)),
               "if": nir.IF(r=u(8, lo=0.5, hi=2), v_threshold=u(8, lo=0.5, hi=1.5)),
               "fc3": nir.Affine(weight=u(3, 8), bias=u(3)),
               "li": nir.LI(tau=u(3, lo=5e-4, hi=3e-3), r=u(3, lo=1, hi=10), v_leak=full(3, 0)),
               "output": nir.Output(output_type=np.array([3]))},
        edges=[("input", "fc1"), ("fc1", "lif"), ("lif", "fc2"), ("fc2", "if"), ("if", "fc3"), ("fc3", "li"),
               ("li", "output")])
    conv = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([2, 8, 8])),
               "conv": nir.Conv2d(input_shape=(8, 8), weight=u(4, 2, 3, 3), stride=1, padding=1, dilation=1,
                                  groups=1, bias=u(4, lo=0, hi=0.1)),
               "if": nir.IF(r=full((4, 8, 8), 1), v_threshold=full((4, 8, 8), 1)),
               "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                     padding=np.array([0, 0])),
               "flat": nir.Flatten(input_type={"input": np.array([4, 4, 4])}, start_dim=0, end_dim=-1),
               "fc": nir.Affine(weight=u(5, 64, lo=-0.5, hi=0.5), bias=u(5, lo=0, hi=0.1)),
               "cuba": nir.CubaLIF(tau_syn=u(5, lo=2e-4, hi=1e-3), tau_mem=u(5, lo=1e-3, hi=3e-3),
                                   r=u(5, lo=10, hi=20), v_leak=full(5, 0), v_threshold=u(5, lo=0.5, hi=1),
                                   w_in=u(5, lo=2, hi=5)),
               "output": nir.Output(output_type=np.array([5]))},
        edges=[("input", "conv"), ("conv", "if"), ("if", "pool"), ("pool", "flat"), ("flat", "fc"), ("fc", "cuba"),
               ("cuba", "output")])
    sub = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([7])),
               "lif": nir.LIF(tau=full(7, 1e-3), r=full(7, 10), v_leak=full(7, 0), v_threshold=u(7, lo=0.5, hi=1)),
               "w_rec": nir.Affine(weight=u(7, 7, lo=-0.3, hi=0.3), bias=full(7, 0)),
               "output": nir.Output(output_type=np.array([7]))},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    rec = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([4])),
               "fc": nir.Affine(weight=u(7, 4), bias=u(7, lo=0, hi=0.2)),
               "rec": sub,
               "out_fc": nir.Linear(weight=u(2, 7)),
               "out_lif": nir.LIF(tau=full(2, 2e-3), r=full(2, 20), v_leak=full(2, 0), v_threshold=full(2, 1)),
               "output": nir.Output(output_type=np.array([2]))},
        edges=[("input", "fc"), ("fc", "rec"), ("rec", "out_fc"), ("out_fc", "out_lif"), ("out_lif", "output")])
    return [("written_ff", ff, [6], True), ("written_conv", conv, [2, 8, 8], False), ("written_rec", rec, [4], False)]


def inline(graph):
    """A nested NIRGraph flattened for the NumPy simulation ("sub.child" names)."""
    import nir
    nodes, edges = {}, []

    def port(name, kind):
        node = graph.nodes[name]
        if not isinstance(node, nir.NIRGraph):
            return name
        inner = next(k for k, v in node.nodes.items() if type(v).__name__ == kind)
        return f"{name}.{inner}"

    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            for k, v in node.nodes.items():
                nodes[f"{name}.{k}"] = Pass() if type(v).__name__ in ("Input", "Output") else v
            edges += [(f"{name}.{a}", f"{name}.{b}") for a, b in node.edges]
        else:
            nodes[name] = node
    edges += [(port(a, "Output"), port(b, "Input")) for a, b in graph.edges]
    return FlatGraph(nodes, edges)


class Pass:
    """A nested graph's Input or Output: passes its input on."""


class FlatGraph:
    def __init__(self, nodes, edges):
        self.nodes, self.edges = nodes, edges


def check_written(args, ck):
    """Graphs written by nir.write run in frugal as the NumPy simulation of NIR says."""
    import nir
    import numpy as np
    rng = np.random.default_rng(7)
    for name, graph, in_shape, last_is_membrane in written_graphs(rng):
        path = os.path.join(args.work, name + ".nir")
        nir.write(path, graph)
        frugal(args, "import", path, "--dt", DT, "--out", os.path.join(args.work, name + ".safetensors"))
        x = random_spikes(rng, (40, 3) + tuple(in_shape))
        np.save(os.path.join(args.work, name + "_x.npy"), x)
        frugal(args, "run", os.path.join(args.work, name + ".safetensors"), "--input",
               os.path.join(args.work, name + "_x.npy"), "--output", os.path.join(args.work, name + "_y.npy"))
        y = np.load(os.path.join(args.work, name + "_y.npy"))
        back = nir.read(path)
        want = simulate(inline(back), x)
        ck.expect(y.shape == want.shape, f"{name}: frugal output {y.shape}, NIR simulation {want.shape}")
        if y.shape != want.shape:
            continue
        if last_is_membrane:
            ck.close(y, want, name + " LI membrane", rtol=1e-4)
            print(f"ok: {name}: membranes within 1e-4 of the NumPy NIR simulation", flush=True)
        else:
            diff = int((y != want).sum())
            ck.expect(diff == 0, f"{name}: {diff} of {y.size} spikes differ from the NumPy NIR simulation")
            ck.expect(want.sum() > 0, f"{name}: no output spikes (the test would not see a difference)")
            print(f"{'ok' if diff == 0 else 'FAIL'}: {name}: {int(want.sum())} output spikes, {diff} differ",
                  flush=True)


def check_snntorch(args, ck):
    try:
        import torch
        import snntorch as snn
        from snntorch import utils
        from snntorch.export_nir import export_to_nir
    except Exception as e:  # noqa: BLE001 - any import failure means snnTorch is not usable here
        print(f"SKIP (snnTorch part): snnTorch does not import: {e}", flush=True)
        return
    import nir
    import numpy as np

    def full(n, v):
        return torch.full((n,), v)

    def leaky_synaptic():
        return [torch.nn.Linear(5, 12), snn.Leaky(beta=full(12, 0.8), threshold=full(12, 0.5), init_hidden=True,
                                                  reset_mechanism="zero"),
                torch.nn.Linear(12, 6), snn.Synaptic(alpha=full(6, 0.6), beta=full(6, 0.9), threshold=full(6, 0.4),
                                                     init_hidden=True, reset_mechanism="zero"),
                torch.nn.Linear(6, 4), snn.Leaky(beta=full(4, 0.7), threshold=full(4, 0.3), init_hidden=True,
                                                 reset_mechanism="zero", output=True)]

    def recurrent():
        return [torch.nn.Linear(5, 6), snn.RLeaky(beta=full(6, 0.7), linear_features=6, threshold=full(6, 0.3),
                                                  init_hidden=True, reset_mechanism="zero"),
                torch.nn.Linear(6, 3), snn.RSynaptic(alpha=full(3, 0.5), beta=full(3, 0.8), linear_features=3,
                                                     threshold=full(3, 0.3), init_hidden=True, reset_mechanism="zero",
                                                     output=True)]

    for name, layers, compare in (("snntorch_leaky_synaptic", leaky_synaptic, True),
                                  ("snntorch_recurrent", recurrent, False)):
        torch.manual_seed(0)
        net = torch.nn.Sequential(*layers())
        path = os.path.join(args.work, name + ".nir")
        nir.write(path, export_to_nir(net, torch.zeros(5)))
        model = os.path.join(args.work, name + ".safetensors")
        frugal(args, "import", path, "--out", model)
        torch.manual_seed(1)
        x = (torch.rand(60, 4, 5) < 0.4).float() * (0.5 + 1.5 * torch.rand(60, 4, 5))
        np.save(os.path.join(args.work, name + "_x.npy"), x.numpy())
        frugal(args, "run", model, "--input", os.path.join(args.work, name + "_x.npy"), "--output",
               os.path.join(args.work, name + "_y.npy"))
        y = np.load(os.path.join(args.work, name + "_y.npy"))
        utils.reset(net)
        spikes = []
        with torch.no_grad():
            for t in range(x.shape[0]):
                spikes.append(net(x[t])[0].clone())
        want = torch.stack(spikes).numpy()
        ck.expect(y.shape == want.shape, f"{name}: frugal output {y.shape}, snnTorch {want.shape}")
        if not compare or y.shape != want.shape:
            print(f"ok: {name}: snnTorch's export imports and runs in frugal, output {y.shape}", flush=True)
            continue
        diff = int((y != want).sum())
        ck.expect(diff == 0, f"{name}: {diff} of {y.size} spikes differ from snnTorch")
        ck.expect(want.sum() > 0, f"{name}: snnTorch gives no spikes (the test would not see a difference)")
        print(f"{'ok' if diff == 0 else 'FAIL'}: {name}: {int(want.sum())} snnTorch spikes, {diff} differ in frugal",
              flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frugal", required=True)
    ap.add_argument("--data", required=True, help="tests/data/nir")
    ap.add_argument("--work", required=True, help="scratch folder")
    ap.add_argument("--venv", default="/tmp/frugal-interop-venv")
    args = ap.parse_args()
    bootstrap(args)
    import nir
    os.makedirs(args.work, exist_ok=True)
    from importlib.metadata import version
    print(f"nir {version('nir')} from {os.path.dirname(nir.__file__)}", flush=True)
    ck = Checker()
    for fixture in ("lif_norse.nir", "cnn_sinabs.nir", "braille_noDelay_bias_zero.nir"):
        check_export(args, ck, fixture)
    check_written(args, ck)
    check_snntorch(args, ck)
    print(f"{ck.failures} failure(s)", flush=True)
    sys.exit(1 if ck.failures else 0)


if __name__ == "__main__":
    main()
