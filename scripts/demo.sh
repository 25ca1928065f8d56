#!/usr/bin/env bash
# The demo: creates the environment once, generates the demo data in the real dataset's
# layout (once), and runs the whole pipeline with local_runner.py. Extra arguments go to
# local_runner.py, e.g. `scripts/demo.sh --epochs 2`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
env_dir=$("$here/scripts/ensure_env.sh")
cd "$here"
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
exec "$env_dir/bin/python" local_runner.py --demo "$@"
