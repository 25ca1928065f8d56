"""A local directory standing for Cloud Storage: `gs://BUCKET/PATH` is `DIR/BUCKET/PATH`.

The Vertex AI emulator (`python -m deploy.emulate --gcs-dir DIR`) seeds its emulated Cloud
Storage from that directory and writes the buckets back there (deploy/storage_emulator):
steps see gs:// URIs, never these paths. Bucket names cannot start with a dot, so
DIR/.vertex-emulator (the emulator's own state) never collides with a bucket.
"""

import os
import re
from typing import Any

GCS_SCHEME = "gs://"
# A gs:// URI inside any string (a path parameter, a JSON-encoded config): up to the next
# quote, whitespace or comma.
_GCS_URI = re.compile(r"gs://[^\s\"',]*")


class LocalGcs:
    """The mapping between gs:// URIs and paths under one local directory."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def local_path(self, uri: str) -> str:
        """gs://bucket/a/b -> ROOT/bucket/a/b (ValueError for anything else)."""
        if not uri.startswith(GCS_SCHEME) or len(uri) == len(GCS_SCHEME):
            raise ValueError(f"not a gs:// URI: {uri!r}")
        bucket_and_path = uri[len(GCS_SCHEME):]
        if bucket_and_path.startswith("/") or ".." in bucket_and_path.split("/"):
            raise ValueError(f"malformed gs:// URI: {uri!r}")
        return os.path.join(self.root, bucket_and_path)

    def uri(self, path: str) -> str:
        """The inverse of local_path for a path under ROOT; other paths are returned as they are."""
        path = str(path)
        if path == self.root or path.startswith(self.root + os.sep):
            relative = os.path.relpath(path, self.root)
            return GCS_SCHEME + relative.replace(os.sep, "/")
        return path

    def to_local(self, value: Any) -> Any:
        """`value` (a JSON value: str, list, dict...) with every gs:// URI in its strings mapped
        to its local path."""
        return _map_strings(value, lambda text: _GCS_URI.sub(
            lambda match: self.local_path(match.group(0)), text))

    def to_gcs(self, value: Any) -> Any:
        """The inverse of to_local: local paths under ROOT in strings become gs:// URIs."""
        pattern = re.compile(re.escape(self.root) + r"(/[^\s\"',]*)?")
        return _map_strings(value, lambda text: pattern.sub(
            lambda match: self.uri(match.group(0)), text))


def _map_strings(value: Any, change) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    if isinstance(value, dict):
        return {key: _map_strings(item, change) for key, item in value.items()}
    return value
