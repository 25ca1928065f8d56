"""One emulated Cloud Storage session: the server seeded from a directory, the metadata server,
the front, and the directory brought up to date with the buckets when the session ends.

`DIR/BUCKET/PATH` is `gs://BUCKET/PATH`: each directory of DIR whose name is a valid bucket
name is a bucket (others, such as `.vertex-emulator`, are left alone), each file under it an
object. Directories are not objects, as in Cloud Storage; an object whose name ends in `/` (what
TensorFlow's `makedirs` writes) comes back as a directory.
"""

import base64
import concurrent.futures
import hashlib
import os
import re
import shutil
import tempfile
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

from deploy.storage_emulator import backend, certificates, front, metadata_server, sandbox

# Cloud Storage's bucket names (https://cloud.google.com/storage/docs/buckets#naming), without
# the dotted forms' extra rules.
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$")
DEFAULT_PROJECT, DEFAULT_PROJECT_NUMBER = "my-project", "123456789012"
ZONE = "us-central1-a"


class WriteBack(NamedTuple):
    written: int
    deleted: int
    unchanged: int
    skipped: List[str]  # object names that cannot be a file (a file and a directory at once)


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - GCS's md5Hash


class Session:
    """Start with `start()`, end with `stop()` (which writes back); `say` prints progress."""

    def __init__(self, gcs_dir: str, environments: Sequence[str] = (),
                 project: str = DEFAULT_PROJECT, project_number: str = DEFAULT_PROJECT_NUMBER,
                 say: Callable[[str], None] = print, log_dir: Optional[str] = None):
        self.gcs_dir = os.path.abspath(gcs_dir)
        self.environments = list(environments)
        self.project, self.project_number = project, project_number
        self.say = say
        self.scratch = tempfile.mkdtemp(prefix="storage-emulator-")
        self.server: Optional[backend.Server] = None
        self._servers: list = []
        self._seeded: Dict[str, Dict[str, str]] = {}  # bucket -> {object: md5Hash}
        self.log_dir = log_dir or self.scratch
        os.makedirs(self.log_dir, exist_ok=True)
        self.front_log = os.path.join(self.log_dir, "storage-requests.log")

    # ---- start ----
    def start(self) -> None:
        certs = certificates.make(os.path.join(self.scratch, "tls"), sandbox.STORAGE_HOSTS)
        sandbox.prepare(self.scratch, certs.ca, self.environments)
        self.server = backend.Server(os.path.join(self.log_dir, "fake-gcs-server.log"),
                                     sandbox.STORAGE_HOSTS[1])
        account = f"{self.project_number}-compute@developer.gserviceaccount.com"
        metadata = metadata_server.start((sandbox.METADATA_IP, 80), self.project,
                                         self.project_number, ZONE, account)
        log = open(self.front_log, "a", buffering=1)  # noqa: SIM115 - closed in stop()
        storage = front.start(("127.0.0.1", 443), self.server.port, certs.certificate,
                              certs.key, lambda: metadata.token,
                              lambda line: log.write(f"{time.time():.3f} {line}\n"))
        self._servers = [metadata, storage, log]
        os.environ[backend.BACKEND_ENV] = self.server.url
        started = time.time()
        count = self.seed()
        self.say(f"emulated Cloud Storage: {count} objects in "
                 f"{len(self._seeded)} buckets from {self.gcs_dir} "
                 f"({time.time() - started:.1f} s; fake-gcs-server at https://"
                 f"{sandbox.STORAGE_HOSTS[0]}, credentials from the metadata server; requests "
                 f"logged in {self.front_log})")

    def buckets_on_disk(self) -> List[str]:
        if not os.path.isdir(self.gcs_dir):
            return []
        return sorted(name for name in os.listdir(self.gcs_dir)
                      if BUCKET_NAME.match(name) and os.path.isdir(
                          os.path.join(self.gcs_dir, name)))

    def seed(self) -> int:
        client = self.server.client()
        uploads = []
        for bucket in self.buckets_on_disk():
            client.create_bucket(bucket)
            self._seeded[bucket] = {}
            root = os.path.join(self.gcs_dir, bucket)
            for directory, _, names in os.walk(root, followlinks=True):
                for name in names:
                    path = os.path.join(directory, name)
                    uploads.append((bucket, os.path.relpath(path, root).replace(os.sep, "/"),
                                    path))

        def upload(item):
            bucket, name, path = item
            with open(path, "rb") as handle:
                data = handle.read()
            client.write(bucket, name, data)
            return bucket, name, _md5(data)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for bucket, name, digest in pool.map(upload, uploads):
                self._seeded[bucket][name] = digest
        return len(uploads)

    # ---- end ----
    def write_back(self) -> WriteBack:
        """Brings DIR up to date with every bucket: new and changed objects written, objects
        deleted during the session deleted, empty directories they leave removed."""
        client = self.server.client()
        written = deleted = unchanged = 0
        skipped = []
        for bucket in client.buckets():
            root = os.path.join(self.gcs_dir, bucket)
            seeded = self._seeded.get(bucket, {})
            objects = {item["name"]: item.get("md5Hash", "") for item in client.objects(bucket)}
            files = {name for name in objects if not name.endswith("/")}
            for name, digest in sorted(objects.items()):
                if name.endswith("/"):
                    os.makedirs(os.path.join(root, name), exist_ok=True)
                    continue
                if any(other.startswith(name + "/") for other in objects):
                    skipped.append(f"gs://{bucket}/{name}")
                    continue
                if seeded.get(name) == digest and os.path.isfile(os.path.join(root, name)):
                    unchanged += 1
                    continue
                path = os.path.join(root, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                data = client.read(bucket, name)
                if data is None:  # deleted meanwhile
                    continue
                with open(path, "wb") as handle:
                    handle.write(data)
                written += 1
            for name in sorted(set(seeded) - files):
                path = os.path.join(root, name)
                if os.path.isfile(path):
                    os.remove(path)
                    deleted += 1
            _remove_empty_dirs(root, {name.rstrip("/") for name in objects})
        return WriteBack(written, deleted, unchanged, skipped)

    def stop(self) -> Optional[WriteBack]:
        result = None
        try:
            if self.server and self.server.process.poll() is None:
                started = time.time()
                result = self.write_back()
                self.say(f"emulated Cloud Storage: wrote back to {self.gcs_dir}: "
                         f"{result.written} objects written, {result.deleted} deleted, "
                         f"{result.unchanged} unchanged ({time.time() - started:.1f} s)")
                for name in result.skipped:
                    self.say(f"  not written back: {name} (a file and a directory at once)")
        finally:
            for server in self._servers:
                getattr(server, "shutdown", lambda: None)()
                getattr(server, "close", lambda: None)()
            if self.server:
                self.server.stop()
            shutil.rmtree(self.scratch, ignore_errors=True)  # logs are kept when log_dir is given
        return result


def _remove_empty_dirs(root: str, keep: set) -> None:
    """Removes directories under `root` left empty, except those an object names."""
    if not os.path.isdir(root):
        return
    for directory, subdirs, names in os.walk(root, topdown=False):
        relative = os.path.relpath(directory, root).replace(os.sep, "/")
        if directory != root and not os.listdir(directory) and relative not in keep:
            os.rmdir(directory)
