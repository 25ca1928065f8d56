#!/usr/bin/env bash
# Creates (once) the Python environment for this project from requirements.lock and prints its
# directory on stdout. The environment lives outside the clone, keyed by the lock file's hash and
# the Python version, so a fresh clone, a second run or CI on the same machine reuses it: a second
# install is a no-op.
#
#   PETSEG_ENV_ROOT   where environments are kept (default: ~/.cache/petseg/envs)
#   PETSEG_PYTHON     the interpreter to build it from (default: python3.11, else python3);
#                     python3.10 builds the pipeline image's stack (the Vertex emulation's steps
#                     run there: python -m deploy.emulate builds it on first use)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lock="$here/requirements.lock"
root=${PETSEG_ENV_ROOT:-$HOME/.cache/petseg/envs}
hash=$(sha256sum "$lock" | cut -c1-16)
py=${PETSEG_PYTHON:-$(command -v python3.11 || command -v python3)}
version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
env_dir="$root/$hash-py$version"

if [ -f "$env_dir/.complete" ]; then
  echo "$env_dir"
  exit 0
fi

echo "[ensure_env] creating $env_dir from requirements.lock with $("$py" --version 2>&1)" >&2
echo "[ensure_env] about 3 GB, once per machine; later runs reuse it" >&2
# An unfinished environment (no .complete marker) is never trusted: start it again.
rm -rf "$env_dir"
mkdir -p "$root"
# A venv made by the stdlib has pip, which installs uv; uv installs the lock.
"$py" -m venv "$env_dir"
"$env_dir/bin/python" -m pip install --quiet --disable-pip-version-check uv==0.13.9 >&2
# tfx 1.16 declares Requires-Python <3.11 but runs on 3.11: install the resolved lock as is (each
# line whose environment marker holds). Compiled to bytecode once here: every pipeline step and
# Beam worker imports TFX, three times slower without .pyc files (and PYTHONDONTWRITEBYTECODE,
# when set, stops Python from writing them later).
"$env_dir/bin/uv" pip install --python "$env_dir/bin/python" --no-deps --compile-bytecode \
  -r "$lock" >&2
"$env_dir/bin/python" -c "import tfx, tensorflow, tensorflow_transform, tensorflow_model_analysis, apache_beam" >&2
touch "$env_dir/.complete"
echo "$env_dir"
