#!/usr/bin/env bash
# The test command: creates the environment once (scripts/ensure_env.sh), then runs pytest.
# Installs Debian's chromium when missing (scripts/ensure_chromium.sh).
# Extra arguments go to pytest, e.g. `scripts/test.sh -k metrics`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
env_dir=$("$here/scripts/ensure_env.sh")
cd "$here"
"$here/scripts/ensure_chromium.sh"  # for the report's headless browser test
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
# Two processes (pytest-xdist): tests that share a pipeline run stay in one (tests/conftest.py
# groups them); PETSEG_TEST_WORKERS=0 runs everything in this process.
exec "$env_dir/bin/python" -m pytest -n "${PETSEG_TEST_WORKERS:-2}" --dist loadgroup "$@"
