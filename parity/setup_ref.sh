#!/usr/bin/env bash
# The reference implementation in its own venv, apart from compasslite's (never our dependency):
# EvalScope 1.14.1 with ms-opencompass 0.1.6. About 4 minutes and 2.2 GB on a 2-core machine.
#   bash parity/setup_ref.sh [VENV_DIR]        (default: parity/ref-venv)
set -euo pipefail
venv=${1:-$(dirname "$0")/ref-venv}
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q torch==2.13.0 'evalscope[opencompass]==1.14.1' 'ms-opencompass==0.1.6' 'pyarrow<23' 'setuptools<81'
"$venv/bin/python" -c "import evalscope, opencompass; print('reference ready:', evalscope.__version__)"
echo "export PARITY_REF_PYTHON=$(cd "$venv" && pwd)/bin/python"
