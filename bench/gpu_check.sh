#!/usr/bin/env bash
# The CUDA path, proven on a GPU machine in under 5 minutes (one script for the `device` tool):
# the tests marked `cuda` (tests/test_cuda.py: bf16/fp16 autocast against float32, the
# out-of-memory fallback, the tubelet cache on the device, the live runner, int8's fallback, one
# host copy per batch), then bench/bench_gpu.py's tables (ViViT-B/16x2 Models 1-4 in bf16 beside
# the paper's TPU-v3 figures, analyze's real-time factor on a 1080p clip, live latency at 30 fps).
#
# Installs nothing: it runs with the first Python that has torch (PYTHON=..., else the repo's
# .venv, else python3), with the repository on PYTHONPATH. Without a CUDA GPU the tests skip
# with their reason and the benchmark says so; it then exits 0.
#
#   bench/gpu_check.sh            # on the device tool: run with timeout_s=330
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in .venv/bin/python python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import torch' 2>/dev/null; then
      PY=$candidate; break
    fi
  done
fi
if [ -z "$PY" ]; then
  echo "gpu_check: no Python with torch found; set PYTHON=/path/to/python" >&2
  exit 1
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 QT_QPA_PLATFORM=offscreen
missing=$("$PY" -c 'import importlib.util as u; print(" ".join(n for n in ("torch", "numpy", "safetensors", "cv2", "pytest", "tqdm") if u.find_spec(n) is None))')
if [ -n "$missing" ]; then
  echo "gpu_check: $PY lacks: $missing (carry them as wheels; nothing is installed here)" >&2
  exit 1
fi
started=$(date +%s)
echo "== gpu_check $(date -u +%Y-%m-%dT%H:%MZ), $("$PY" -c 'import sys, torch; print(f"Python {sys.version.split()[0]}, torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")')"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
echo "== tests marked cuda"
timeout 150 "$PY" -m pytest -q -m cuda -rs -p no:cacheprovider tests/test_cuda.py
tests=$?
echo "== GPU benchmark"
timeout 170 "$PY" bench/bench_gpu.py
bench=$?
echo "== gpu_check: tests exit $tests, benchmark exit $bench, $(( $(date +%s) - started )) s"
[ "$tests" -eq 0 ] && [ "$bench" -eq 0 ]
