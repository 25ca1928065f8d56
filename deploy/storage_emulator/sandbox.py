"""The private network and mount namespace an emulated Cloud Storage session runs in.

`enter(argv)` re-executes the process under `unshare --net --mount` (root only; the kernel's
namespaces, nothing installed). Inside, `prepare()`:
- brings up loopback, the only interface, and gives it the metadata server's link-local
  address (169.254.169.254), so nothing leaves the machine and nothing outside is reached;
- bind-mounts over `/etc/hosts` a copy that sends Google's storage and metadata host names to
  loopback;
- bind-mounts over the system CA bundle, and over certifi's and httplib2's bundles in the given
  Python environments, copies with the session's CA appended (TensorFlow's libcurl reads the
  system bundle, requests certifi's);
- hides the machine's gcloud credentials (`~/.config/gcloud`) behind an empty directory and drops
  the variables that would point clients elsewhere, so the metadata server is the one source of
  credentials, as on a Vertex AI worker.
Mounts made in the namespace are seen only by its processes and vanish with them.
"""

import glob
import os
import shutil
import subprocess
import sys
from typing import List, Optional, Sequence

MARKER = "PETSEG_STORAGE_SANDBOX"  # set in the re-executed process: it is inside
METADATA_IP = "169.254.169.254"
# Served by the front (front.py): Cloud Storage's JSON API hosts, and IAM Credentials' (one
# question google-auth asks about the service account).
STORAGE_HOSTS = ("www.googleapis.com", "storage.googleapis.com", "iamcredentials.googleapis.com")
METADATA_HOSTS = ("metadata.google.internal", "metadata")
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# Variables that would send Cloud Storage or auth clients elsewhere than the emulated services.
DROPPED_VARIABLES = ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_AUTH_TOKEN_FOR_TESTING",
                     "STORAGE_EMULATOR_HOST", "CLOUD_STORAGE_EMULATOR_ENDPOINT",
                     "GCE_METADATA_HOST", "GCE_METADATA_ROOT", "GCE_METADATA_IP",
                     "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE",
                     "CLOUDSDK_CONFIG", "GOOGLE_CLOUD_PROJECT")


class SandboxError(RuntimeError):
    """The namespace cannot be made here; the message says why and what to do."""


def inside() -> bool:
    return os.environ.get(MARKER) == "1"


def unavailable_reason() -> Optional[str]:
    if os.geteuid() != 0:
        return ("the emulated Cloud Storage needs root (a private network and mount namespace: "
                "unshare --net --mount); run as root, e.g. in a container or VM of your own")
    for tool in ("unshare", "ip", "mount"):
        if shutil.which(tool) is None:
            return f"the emulated Cloud Storage needs `{tool}` (util-linux, iproute2)"
    return None


def enter(argv: Sequence[str]) -> None:
    """Replaces this process with `argv` inside a new network and mount namespace."""
    reason = unavailable_reason()
    if reason:
        raise SandboxError(reason)
    os.environ[MARKER] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp("unshare", ["unshare", "--net", "--mount", "--propagation", "private", "--",
                          *argv])


def _run(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SandboxError(f"`{' '.join(command)}` failed: {result.stderr.strip()}")


def _bind(source: str, target: str) -> None:
    _run("mount", "--bind", source, target)


def prepare(scratch: str, ca_pem: str, environments: Sequence[str]) -> List[str]:
    """Sets up the namespace (see the module's docstring); returns the files overlaid."""
    if not inside():
        raise SandboxError("prepare() runs only inside the namespace (enter() first)")
    _run("ip", "link", "set", "lo", "up")
    _run("ip", "address", "add", f"{METADATA_IP}/32", "dev", "lo")
    overlaid = []
    with open("/etc/hosts", encoding="utf-8", errors="replace") as handle:
        hosts = handle.read()
    hosts += ("\n# the emulated Cloud Storage session (deploy/storage_emulator)\n"
              f"127.0.0.1 {' '.join(STORAGE_HOSTS)}\n{METADATA_IP} {' '.join(METADATA_HOSTS)}\n")
    overlaid.append(_overlay("/etc/hosts", hosts.encode(), scratch))
    with open(ca_pem, "rb") as handle:
        ca = handle.read()
    bundles = [SYSTEM_BUNDLE] + sorted({
        path for prefix in environments for pattern in (
            "lib/python*/site-packages/certifi/cacert.pem",
            "lib/python*/site-packages/httplib2/cacerts.txt")
        for path in glob.glob(os.path.join(prefix, pattern))})
    for bundle in bundles:
        if os.path.isfile(bundle):
            with open(bundle, "rb") as handle:
                overlaid.append(_overlay(bundle, handle.read().rstrip(b"\n") + b"\n" + ca,
                                         scratch))
    gcloud = os.path.join(os.path.expanduser("~"), ".config", "gcloud")
    if os.path.isdir(gcloud):
        empty = os.path.join(scratch, "empty-gcloud")
        os.makedirs(empty, exist_ok=True)
        _bind(empty, gcloud)
        overlaid.append(gcloud)
    for name in DROPPED_VARIABLES:
        os.environ.pop(name, None)
    return overlaid


def _overlay(target: str, content: bytes, scratch: str) -> str:
    copy = os.path.join(scratch, "overlay-" + target.strip("/").replace("/", "_"))
    with open(copy, "wb") as handle:
        handle.write(content)
    _bind(copy, target)
    return target
