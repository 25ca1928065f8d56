"""The versions in a model directory: integer directories, as TF Serving sees them."""

import os
import re
from typing import List, Optional

from serving.manifest import read_manifest
from storage import files

_VERSION = re.compile(r"^\d+$")
# What makes a version loadable (what TF Serving needs); copied last into a remote version.
GRAPH_FILES = ("saved_model.pb", "saved_model.pbtxt")


def existing_versions(model_dir: str) -> List[int]:
    """Integer version directories in a model directory, ascending."""
    fs = files.at(model_dir)
    if not fs.isdir(model_dir):
        return []
    return sorted(int(name) for name in fs.names(model_dir)
                  if _VERSION.match(name) and fs.isdir(os.path.join(model_dir, name)))


def has_graph(fs, directory: str) -> bool:
    """Whether `directory` holds a SavedModel graph file."""
    return any(fs.isfile(os.path.join(directory, name)) for name in GRAPH_FILES)


def is_complete(model_dir: str, version: int) -> bool:
    """Whether the version holds a SavedModel graph file (what TF Serving needs to load it)."""
    return has_graph(files.at(model_dir), os.path.join(model_dir, str(version)))


def version_of(model_dir: str, model_path: str) -> Optional[int]:
    """The version that already holds this model (pushed from the same path), if any."""
    for version in existing_versions(model_dir):
        if read_manifest(model_dir, version).get("model_path") == model_path:
            return version
    return None
