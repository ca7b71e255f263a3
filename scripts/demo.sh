#!/usr/bin/env bash
# The main job: a short tour of frugal. Installs what is missing, builds Release, then runs each
# system on real data and prints what it shows. Stays under 10 minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release
frugal=build/release/frugal
mkdir -p runs
step() { printf '\n== %s\n' "$*" >&2; }

step "1. Foundation: the reference CNN on Fashion-MNIST (3 epochs), then eval of the saved model"
$frugal train examples/fmnist_cnn.toml --out runs/demo_cnn --json > runs/demo_cnn.json
$frugal eval runs/demo_cnn/model.safetensors --json > runs/demo_cnn_eval.json
python3 - <<'PY'
import json
t = json.load(open("runs/demo_cnn.json")); e = json.load(open("runs/demo_cnn_eval.json"))
print(f"CNN: test accuracy {t['test_accuracy']:.4f} after {t['epochs']} epochs in {t['train_seconds']:.1f} s "
      f"({t['train_samples_per_s']:.0f} samples/s, peak {t['peak_bytes']/2**20:.1f} MiB); eval of saved model: {e['test_accuracy']:.4f}")
PY
