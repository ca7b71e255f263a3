#!/usr/bin/env bash
# Fetches the BasicMotions human-activity set (smartwatch accelerometer + gyroscope, 4 activities,
# 40 + 40 series of 100 steps x 6 channels) once into a cache. It ships inside the aeon wheel on
# the Python package index; nothing is installed, the wheel is only unpacked.
# Prints the dataset folder. FRUGAL_CACHE overrides the cache root (default ~/.cache/frugal).
set -euo pipefail
cache=${FRUGAL_CACHE:-$HOME/.cache/frugal}
dest=$cache/BasicMotions
if [[ ! -f $dest/BasicMotions_TRAIN.ts || ! -f $dest/BasicMotions_TEST.ts ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "fetch_har: downloading the aeon wheel for BasicMotions" >&2
  python3 -m pip download --quiet --no-deps --dest "$tmp" "aeon==1.6.0" >&2
  mkdir -p "$dest"
  python3 - "$tmp" "$dest" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/aeon-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    for split in ("TRAIN", "TEST"):
        name = f"aeon/datasets/data/BasicMotions/BasicMotions_{split}.ts"
        open(f"{sys.argv[2]}/BasicMotions_{split}.ts", "wb").write(z.read(name))
PY
fi
echo "$dest"
