"""The hash of the model code (trainer/) that Transform and Trainer run, for their cache keys.

Transform and Trainer name their functions (`trainer.preprocessing.preprocessing_fn`,
`trainer.train.run_fn`) instead of packaging trainer/ as a wheel: the code is the repository's
locally and the pipeline image's in the cloud (Dockerfile: PYTHONPATH=/pipeline). A function's
name does not change when its code does, and TFX's cache key holds the components' properties,
not the code; so this hash goes into both components' custom_config, and a change to any file
under trainer/ runs them again, as a new wheel did.
"""

import hashlib
import os

from pipeline.config import TRAINER_DIR


def code_version(directory: str = TRAINER_DIR) -> str:
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
