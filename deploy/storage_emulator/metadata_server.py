"""The GCE metadata server, as far as Google's client libraries ask it on a Vertex AI worker.

TensorFlow's gs:// filesystem (`http://metadata.google.internal/computeMetadata/v1/`) and
google-auth (`http://169.254.169.254` to find it, then `metadata.google.internal`) take their
credentials from it when nothing else is configured, which is how a Vertex AI step
authenticates. Every request must carry `Metadata-Flavor: Google` (403 otherwise, as the real
server answers); replies carry it too. The token is issued for the session and is the one the
front accepts.
"""

import http.server
import json
import secrets
import socketserver
import threading
import urllib.parse

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


class MetadataServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, project_id: str, project_number: str, zone: str,
                 service_account: str):
        super().__init__(address, _Handler)
        self.token = "ya29.emulated-" + secrets.token_urlsafe(24)
        account = {"aliases": ["default"], "email": service_account, "scopes": SCOPES}
        base = "/computeMetadata/v1/"
        self.answers = {
            base + "project/project-id": project_id,
            base + "project/numeric-project-id": project_number,
            base + "instance/zone": f"projects/{project_number}/zones/{zone}",
            base + "instance/service-accounts/": "default/\n" + service_account + "/\n",
            base + "instance/service-accounts/default/": account,
            base + "instance/service-accounts/default/email": service_account,
            base + "instance/service-accounts/default/scopes": "\n".join(SCOPES),
            base + "universe/universe-domain": "googleapis.com",
        }


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: MetadataServer

    def log_message(self, format, *args):  # noqa: A002
        pass

    def _send(self, status: int, body, content_type: str = "application/text") -> None:
        if not isinstance(body, (str, bytes)):
            body, content_type = json.dumps(body), "application/json"
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - the base class's name
        if self.headers.get("Metadata-Flavor") != "Google":
            self._send(403, "Missing required header \"Metadata-Flavor\": \"Google\"")
            return
        path = urllib.parse.urlsplit(self.path).path
        if path in ("/", "/computeMetadata/v1/", "/computeMetadata/"):
            self._send(200, "computeMetadata/\n")
        elif path.endswith("/service-accounts/default/token"):
            self._send(200, {"access_token": self.server.token, "expires_in": 3599,
                             "token_type": "Bearer"})
        elif path.endswith("/service-accounts/default/identity"):
            self._send(404, "not emulated")
        elif path in self.server.answers:
            self._send(200, self.server.answers[path])
        else:
            self._send(404, "Not Found")


def start(address, project_id: str, project_number: str, zone: str,
          service_account: str) -> MetadataServer:
    server = MetadataServer(address, project_id, project_number, zone, service_account)
    threading.Thread(target=server.serve_forever, name="metadata", daemon=True).start()
    return server
