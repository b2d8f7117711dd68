#!/usr/bin/env bash
# Create the peer virtualenv with bmi (PyPI benchmark-mi) and the JAX it needs.
# It is never a dependency of infomax: only the bmi_suite scripts that say so run in it.
# Usage: benchmarks/bmi_suite/setup.sh [VENV]   (default: .venv-bmi in the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${1:-.venv-bmi}
test -x "$VENV/bin/python" || python3.11 -m venv "$VENV"
"$VENV/bin/pip" install -q benchmark-mi==0.1.3 jax==0.4.30 jaxlib==0.4.30
"$VENV/bin/python" -c "import bmi.benchmark as b; print('bmi ready:', len(b.BENCHMARK_TASKS), 'v1 tasks')"
