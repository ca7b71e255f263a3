#!/usr/bin/env bash
# Installs the Debian packages frugal needs to build, test and run its demo. Idempotent: only
# missing packages are installed, so a second run costs a dpkg query.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git
  libdnnl-dev libonnx-dev libprotobuf-dev protobuf-compiler libnifti2-dev libhdf5-dev zlib1g-dev
  libtomlplusplus-dev libcli11-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  dataset-fashion-mnist gnuplot-nox iverilog yosys
  python3 python3-pip python3-venv python3-numpy python3-torch python3-h5py python3-onnx python3-nibabel
  libopenblas0-pthread  # Debian's torch (the benchmark peer) otherwise runs on the reference BLAS
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
