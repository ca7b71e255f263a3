# Writes TRAIN.ts and TEST.ts: a tiny synthetic activity set in the sktime .ts format, so the L2MU
# tests always have data. 4 classes x 3 channels x 30 steps; each class is a sinusoid of its own
# frequency on its own channel mix, plus noise, with a random phase and amplitude per series.
import numpy as np

CLASSES = ["still", "walk", "run", "wave"]
FREQ = [0.0, 0.08, 0.2, 0.33]
MIX = [[0.2, 0.2, 0.2], [1.0, 0.3, 0.0], [0.5, 1.0, 0.5], [0.0, 0.3, 1.0]]
LENGTH = 30


def write(path, per_class, rng):
    lines = ["# synthetic HAR fixture for frugal tests (tests/data/har/make_har_ts.py)",
             "@problemName SyntheticHAR", "@timeStamps false", "@missing false", "@univariate false",
             "@dimensions 3", "@equalLength true", f"@seriesLength {LENGTH}",
             "@classLabel true " + " ".join(CLASSES), "@data"]
    t = np.arange(LENGTH)
    for i in range(per_class):
        for c, name in enumerate(CLASSES):
            phase = rng.uniform(0, 2 * np.pi)
            amp = rng.uniform(0.7, 1.3)
            dims = []
            for ch in range(3):
                v = amp * MIX[c][ch] * np.sin(2 * np.pi * FREQ[c] * t + phase + ch) + 0.15 * rng.standard_normal(LENGTH)
                dims.append(",".join(f"{x:.3f}" for x in v))
            lines.append(":".join(dims) + ":" + name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


rng = np.random.default_rng(7)
write("TRAIN.ts", 12, rng)
write("TEST.ts", 6, rng)
