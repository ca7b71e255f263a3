"""Golden values for tests/test_snn_neurons.cpp from snnTorch 0.9 (Leaky, Synaptic).

Run with Debian's torch and snnTorch 0.9.4 (pure Python, pip-installed into any venv's site-packages):
     PYTHONPATH=<venv>/lib/python3.X/site-packages python3 tests/data/snn/make_neuron_fixtures.py > tests/data/snn/neurons_snntorch.json
Each case steps one neuron layer over x [T, B, F] from a zero state (or U[-1] = init_frac*thr),
takes L = sum(ws*spk) + sum(wm*mem) and records spikes, membranes and the gradients of L.
"""
import json

import snntorch as snn
import torch
from snntorch import surrogate

T, B, F = 12, 2, 3


def spike_grad(name, param):
    return {"atan": surrogate.atan, "fast_sigmoid": surrogate.fast_sigmoid,
            "sigmoid": surrogate.sigmoid, "triangle": surrogate.triangular}[name](param)


def run(case_id, neuron, reset, sg, param, beta, thr, alpha=None, init_frac=0.0, amplitude=1.0, name=None):
    g = torch.Generator().manual_seed(case_id)
    x = (torch.rand(T, B, F, generator=g) * 0.9 - 0.1).requires_grad_(True)
    ws = torch.rand(T, B, F, generator=g) * 2 - 1
    wm = torch.rand(T, B, F, generator=g) * 2 - 1
    beta_t = torch.tensor(beta, requires_grad=True)
    thr_t = torch.tensor(thr, requires_grad=True)
    alpha_t = torch.tensor(alpha, requires_grad=True) if alpha is not None else None
    common = dict(threshold=thr_t, spike_grad=spike_grad(sg, param), reset_mechanism=reset,
                  learn_beta=True, learn_threshold=True)
    if neuron == "synaptic":
        layer = snn.Synaptic(alpha=alpha_t, beta=beta_t, learn_alpha=True, **common)
    else:
        layer = snn.Leaky(beta=beta_t, graded_spikes_factor=amplitude, **common)
    # learn_* wraps the tensors in new Parameters; read the gradients from the layer's own.
    mem = (init_frac * layer.threshold).expand(B, F)
    syn = torch.zeros(B, F)
    spks, mems = [], []
    for t in range(T):
        if neuron == "synaptic":
            spk, syn, mem = layer(x[t], syn, mem)
        else:
            spk, mem = layer(x[t], mem)
        spks.append(spk)
        mems.append(mem)
    spk = torch.stack(spks)
    mem = torch.stack(mems)
    loss = (ws * spk).sum() + (wm * mem).sum()
    loss.backward()
    flat = lambda v: [float(e) for e in v.detach().reshape(-1)]
    out = dict(name=name or f"{neuron}_{reset}_{sg}", neuron=neuron, reset=reset, surrogate=sg, param=param,
               shape=[T, B, F], init_frac=init_frac, amplitude=amplitude,
               x=flat(x), ws=flat(ws), wm=flat(wm), beta=flat(layer.beta), threshold=flat(layer.threshold),
               spikes=flat(spk), membranes=flat(mem), diff_x=flat(x.grad), diff_beta=flat(layer.beta.grad),
               diff_threshold=flat(layer.threshold.grad))
    if neuron == "synaptic":
        out["alpha"] = flat(layer.alpha)
        out["diff_alpha"] = flat(layer.alpha.grad)
    return out


cases = [
    run(1, "leaky", "subtract", "atan", 2.0, beta=[0.8, 0.9, 0.7], thr=[1.0]),
    run(2, "leaky", "zero", "fast_sigmoid", 25.0, beta=[0.85], thr=[0.8, 1.0, 1.2]),
    run(3, "leaky", "none", "sigmoid", 25.0, beta=[0.6], thr=[1.0]),
    run(4, "leaky", "subtract", "triangle", 1.0, beta=[0.9], thr=[0.9]),
    run(5, "synaptic", "subtract", "atan", 2.0, beta=[0.8], thr=[1.0], alpha=[0.5, 0.6, 0.7]),
    run(6, "synaptic", "zero", "fast_sigmoid", 25.0, beta=[0.7, 0.8, 0.9], thr=[1.1], alpha=[0.4]),
    # IF as snnTorch writes it: Leaky with beta = 1, a starting membrane and graded spikes.
    run(7, "leaky", "subtract", "atan", 2.0, beta=[1.0], thr=[0.75], init_frac=0.5, amplitude=0.5, name="if_atan"),
]
print(json.dumps({"snntorch": snn.__version__, "torch": torch.__version__, "cases": cases}))
