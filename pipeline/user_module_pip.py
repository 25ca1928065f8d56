"""Makes TFX's installs of the user-module wheel skip pip's whole-environment check.

TFX packages `trainer/` as a wheel (its hash is the Transform and Trainer cache key), and each
executor that loads code from it runs `python -m pip install --target TMP <wheel>`: Transform
three times (its own install context and one per function it imports), Trainer once. The wheel
has no dependencies, yet pip then checks every distribution installed in the environment for
conflicts, parsing each requirement string: most of each install's time, and a large share of
Transform's on small data (BENCHMARKS.md "What changed for speed", the measurements).

pip reads its options from `PIP_*` environment variables, which the install subprocess
inherits. A negative flag's variable sets the positive option's value, so
`PIP_NO_WARN_CONFLICTS=0` is `--no-warn-conflicts` (tests/test_user_module_pip.py asks pip's
own parser). The local runner sets these; the pipeline image (Dockerfile) sets the same for
Kubeflow and Vertex AI. A value already in the environment is kept.
"""

import os
from typing import MutableMapping

PIP_ENVIRONMENT = {
    "PIP_NO_WARN_CONFLICTS": "0",  # skip the whole-environment conflict check
    # No "a new pip is available" lookup per install (not measured: the benchmark machine
    # already had it set).
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}


def speed_up_user_module_installs(environ: MutableMapping[str, str] = os.environ) -> None:
    """Sets PIP_ENVIRONMENT in `environ` (the process's own by default), keeping any value
    already set."""
    for name, value in PIP_ENVIRONMENT.items():
        environ.setdefault(name, value)
