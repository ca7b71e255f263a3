"""Golden values for tests/test_snn_encoders.cpp from snnTorch 0.9 spikegen and functional losses.

Run: PYTHONPATH=<venv with snntorch 0.9.4>/lib/python3.X/site-packages python3 \
     tests/data/snn/make_encoder_fixtures.py > tests/data/snn/encoders_snntorch.json
"""
import json

import snntorch as snn
import snntorch.functional as SF
import torch
from snntorch import spikegen

flat = lambda v: [float(e) for e in v.detach().reshape(-1)]
g = torch.Generator().manual_seed(3)
data = torch.rand(2, 5, generator=g)
data[0, 0] = 0.0  # below threshold
data[1, 4] = 1.0
out = {"snntorch": snn.__version__, "data": flat(data), "shape": [2, 5], "latency": []}
for linear in (False, True):
    for normalize in (False, True):
        for clip in (False, True):
            steps = 25
            kw = dict(num_steps=steps, linear=linear, normalize=normalize, clip=clip)
            if not linear and not normalize:
                kw["tau"] = 1.5  # the log code without normalize must fit in T
            spk = spikegen.latency(data, **kw)
            out["latency"].append(dict(linear=linear, normalize=normalize, clip=clip, tau=kw.get("tau", 1.0),
                                       steps=steps, spikes=flat(spk)))

seq = torch.rand(6, 2, 3, generator=g)
out["delta_input"] = flat(seq)
out["delta_shape"] = [6, 2, 3]
out["delta"] = [dict(padding=p, off=o, threshold=0.2, spikes=flat(spikegen.delta(seq, threshold=0.2, padding=p, off_spike=o)))
                for p in (False, True) for o in (False, True)]

T, B, C = 7, 3, 4
spk = (torch.rand(T, B, C, generator=g) > 0.6).float().requires_grad_(True)
mem = (torch.rand(T, B, C, generator=g) * 2 - 0.5).requires_grad_(True)
labels = torch.tensor([1, 3, 0])
losses = {}
for name, fn, x in (("ce_count", SF.ce_count_loss(), spk), ("ce_max_membrane", SF.ce_max_membrane_loss(), mem),
                    ("mse_count", SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2), spk)):
    x.grad = None
    loss = fn(x, labels)
    loss.backward()
    losses[name] = dict(loss=float(loss), grad=flat(x.grad))
out.update(loss_shape=[T, B, C], labels=labels.tolist(), loss_spikes=flat(spk), loss_membranes=flat(mem), losses=losses)
print(json.dumps(out))
