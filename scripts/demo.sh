#!/usr/bin/env bash
# The main job: a short tour of frugal. Installs what is missing, builds Release, then runs each
# system on real data and prints what it shows. Stays under 10 minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release
frugal=build/release/frugal
mkdir -p runs
step() { printf '\n== %s\n' "$*" >&2; }
# Prints the named keys of a --json result file, one line.
summary() {
  python3 - "$@" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
def get(key):
    v = m
    for part in key.split("."):
        v = v[part]
    return v
print("   " + ", ".join(f"{k} = {get(k):.4g}" if isinstance(get(k), float) else f"{k} = {get(k)}" for k in sys.argv[2:]))
PY
}

step "1. Foundation: the reference CNN on Fashion-MNIST (3 epochs), then eval of the saved model"
$frugal train examples/fmnist_cnn.toml --out runs/demo_cnn --json > runs/demo_cnn.json
$frugal eval runs/demo_cnn/model.safetensors --json > runs/demo_cnn_eval.json
summary runs/demo_cnn.json test_accuracy train_seconds train_samples_per_s peak_bytes
summary runs/demo_cnn_eval.json test_accuracy samples_per_s

step "2. Spiking CNN (LIF, T = 8, surrogate gradients through time) on a Fashion-MNIST slice, with energy"
$frugal train examples/fmnist_snn.toml --set train_limit=10000 --set test_limit=2000 --out runs/demo_snn \
  --json > runs/demo_snn.json
summary runs/demo_snn.json test_accuracy train_seconds
$frugal eval runs/demo_snn/model.safetensors --energy --json > runs/demo_snn_eval.json
summary runs/demo_snn_eval.json test_accuracy energy.sops energy.macs energy.energy_uj

step "3. N:M sparse training: 2:8 BDWP masks in forward and backward, N:M kernels"
$frugal train examples/fmnist_mlp_2to8.toml --set epochs=1 --set train_limit=6000 --set test_limit=2000 \
  --out runs/demo_mlp_2to8 --json > runs/demo_mlp_2to8.json
grep '^schedule layer' runs/demo_mlp_2to8/train.log >&2 || true
summary runs/demo_mlp_2to8.json test_accuracy
$frugal info runs/demo_mlp_2to8/model.safetensors

step "4. LMU and the spiking L2MU on raw sensor series (BasicMotions, no spike encoder)"
har_dir=$(scripts/fetch_har.sh 2>/dev/null || echo tests/data/har)
$frugal train examples/har_lmu.toml --data-dir "$har_dir" --out runs/demo_lmu --json > runs/demo_lmu.json
summary runs/demo_lmu.json test_accuracy train_seconds
$frugal train examples/har_l2mu.toml --data-dir "$har_dir" --out runs/demo_l2mu --json > runs/demo_l2mu.json
summary runs/demo_l2mu.json test_accuracy train_seconds

step "5. NIR: a LIF neuron exported by Norse, imported and run on its reference input"
$frugal import tests/data/nir/lif_norse.nir --out runs/demo_lif_norse.safetensors
$frugal info runs/demo_lif_norse.safetensors

printf '\nThe tour is done: run folders are in runs/.\n' >&2
