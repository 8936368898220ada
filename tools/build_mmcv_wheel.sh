#!/usr/bin/env bash
# Build mmcv 2.1.0 with its compiled ops (mmcv._ext, which mmseg imports) against the torch
# installed in the given venv, once, into a wheel cache outside the repository.
# The cache is keyed by mmcv, torch and python versions: a wheel built against another torch
# has a different C++ ABI and fails to import, so a torch bump builds a new wheel.
# Usage: tools/build_mmcv_wheel.sh VENV_PYTHON CACHE_ROOT   (prints the wheel directory)
set -euo pipefail
python=$1
cache_root=$2
mmcv_version=2.1.0
torch_version=$("$python" -c 'import torch; print(torch.__version__)')
py_tag=$("$python" -c 'import sys; print(f"cp{sys.version_info.major}{sys.version_info.minor}")')
wheel_dir="$cache_root/mmcv-$mmcv_version-torch-$torch_version-$py_tag"
if ls "$wheel_dir"/mmcv-"$mmcv_version"-*.whl >/dev/null 2>&1; then
  echo "$wheel_dir"
  exit 0
fi
mkdir -p "$cache_root"
build_dir=$(mktemp -d "$cache_root/.build-XXXXXX")
trap 'rm -rf "$build_dir"' EXIT
echo "building mmcv $mmcv_version against torch $torch_version (about 10 min on 2 cores)..." >&2
# --no-build-isolation: compile against the venv's torch, not a fresh one pip would pick.
MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-2} \
  "$python" -m pip wheel --no-build-isolation --no-deps --no-binary mmcv \
  -w "$build_dir" "mmcv==$mmcv_version" >&2
# Publish atomically: a half-built wheel never lands in the cache.
mkdir -p "$build_dir/out"
mv "$build_dir"/mmcv-*.whl "$build_dir/out/"
mv "$build_dir/out" "$wheel_dir"
echo "$wheel_dir"
