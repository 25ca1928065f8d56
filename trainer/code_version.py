"""The hash of the model code (this directory), for Transform's and Trainer's cache keys, and
the check that the code a step runs is the code the pipeline was defined with.

Transform and Trainer name their functions (`trainer.preprocessing.preprocessing_fn`,
`trainer.train.run_fn`) instead of packaging trainer/ as a wheel: the code is the repository's
locally and the pipeline image's in the cloud (Dockerfile: PYTHONPATH=/pipeline). A function's
name does not change when its code does, and TFX's cache key holds the components' properties,
not the code; so `create_pipeline` puts this hash into both components' custom_config, and a
change to any file here runs them again, as a new wheel did. In the cloud the hash is the
compiling machine's and the code the image's: `check` refuses to run when they differ (an image
not rebuilt after a change), rather than record results under a version they do not come from.
Standard library only.
"""

import hashlib
import os
from typing import Any, Dict, Optional

CODE_VERSION_KEY = "code_version"  # the custom_config key; run_fn's settings ignore it
HERE = os.path.dirname(os.path.abspath(__file__))


def code_version(directory: str = HERE) -> str:
    """SHA-256 (first 16 hex digits) over the names and bytes of every .py file under
    `directory`, in sorted order: the same files give the same hash on any machine."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(name for name in dirs if name != "__pycache__")
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            relative = os.path.relpath(path, directory).replace(os.sep, "/")
            with open(path, "rb") as handle:
                content = handle.read()
            for part in (relative.encode("utf-8"), content):
                digest.update(len(part).to_bytes(8, "big"))
                digest.update(part)
    return digest.hexdigest()[:16]


def check(custom_config: Optional[Dict[str, Any]], step: str) -> None:
    """Raises RuntimeError when `custom_config` names a code version other than this code's
    (no version named: nothing to check, e.g. a direct call)."""
    expected = (custom_config or {}).get(CODE_VERSION_KEY)
    if expected is None:
        return
    running = code_version()
    if expected != running:
        raise RuntimeError(
            f"{step} runs trainer/ version {running}, but the pipeline was compiled with "
            f"version {expected}: the image holds other model code than the compiling machine "
            f"(rebuild and push the pipeline image from the same checkout, then compile again)")
