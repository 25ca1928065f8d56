"""The front: HTTPS at Google's API host names, passing Cloud Storage requests to the server.

Cloud Storage's own front end does three things fake-gcs-server does not, which real clients
depend on; the front does them and nothing else:
- it refuses a request without a valid OAuth token (401, Cloud Storage's error body): here the
  token the metadata server issued this session, so a client that did not authenticate as a
  Vertex AI worker does fails here too;
- it accepts `Transfer-Encoding: identity` with a Content-Length (TensorFlow's resumable
  upload sends it; Go's HTTP server, under fake-gcs-server, answers 501, which TensorFlow
  retries for ever);
- an upload session's `Location` is an https URL on the host the client asked (fake-gcs-server
  returns http and its own host);
- batch requests (`POST /batch/storage/v1`, multipart/mixed; Beam's GCS IO deletes and copies
  in batches): each part is sent to the server in turn and the answers returned as one
  multipart/mixed reply, as Google's front end does (fake-gcs-server has no batch endpoint).
It also answers google-auth's one IAM Credentials question (a service account's allowed
locations: none set). Every request is logged (method, path, status, client) to the session's front.log.
"""

import email.parser
import http.client
import http.server
import json
import socket
import socketserver
import ssl
import threading
import urllib.parse
import uuid
from typing import Callable

# Hop-by-hop headers and the body framing, which the front sets itself.
BATCH_PATH = "/batch/storage/v1"
IAM_HOST = "iamcredentials.googleapis.com"
_NOT_FORWARDED = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
                  "trailer", "upgrade", "expect", "content-length"}


def _error(code: int, message: str) -> bytes:
    """Cloud Storage's JSON error body."""
    reason = {401: "required", 400: "invalid"}.get(code, "error")
    return json.dumps({"error": {"code": code, "message": message,
                                 "errors": [{"message": message, "domain": "global",
                                             "reason": reason}]}}).encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and `Expect: 100-continue` answered
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stalls
    server: "FrontServer"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authorized(self) -> bool:
        given = self.headers.get("Authorization", "")
        return given == f"Bearer {self.server.token()}"

    def _reply(self, status: int, headers, body: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.log(f"{self.command} {self.headers.get('Host', '')}{self.path} {status}")

    def _location(self, value: str) -> str:
        parts = urllib.parse.urlsplit(value)
        return urllib.parse.urlunsplit(("https", self.headers.get("Host", parts.netloc),
                                        parts.path, parts.query, parts.fragment))

    def _forward(self) -> None:
        body = self._body()
        if not self._authorized():
            anonymous = not self.headers.get("Authorization")
            self._reply(401, [("Content-Type", "application/json; charset=UTF-8"),
                              ("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')],
                        _error(401, "Anonymous caller does not have storage.objects.get access "
                                    "to the Google Cloud Storage object." if anonymous
                               else "Invalid Credentials"))
            return
        headers = {key: value for key, value in self.headers.items()
                   if key.lower() not in _NOT_FORWARDED}
        if self.headers.get("Host", "").split(":")[0] == IAM_HOST:
            self._access_boundary()
            return
        if self.command == "POST" and urllib.parse.urlsplit(self.path).path == BATCH_PATH:
            self._batch(headers, body)
            return
        answer = self._backend(self.command, self.path, headers, body)
        if answer is None:
            self._reply(503, [("Content-Type", "application/json")],
                        _error(503, "the emulated Cloud Storage server did not answer"))
            return
        self._reply(*answer)

    def _access_boundary(self) -> None:
        """google-auth asks IAM Credentials for a service account's allowed locations (in a
        background thread): the answer of an account without a regional access boundary."""
        if self.command == "GET" and self.path.split("?")[0].endswith("/allowedLocations"):
            self._reply(200, [("Content-Type", "application/json")],
                        json.dumps({"locations": [], "encodedLocations": "0x0"}).encode())
        else:
            self._reply(404, [("Content-Type", "application/json")],
                        _error(404, "not emulated: only allowedLocations"))

    def _backend(self, method: str, path: str, headers, body: bytes):
        """(status, headers, body) of the server's answer, or None when it did not answer."""
        connection = self.server.backend_connection()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.server.drop_backend_connection()
            return None
        reply = []
        for key, value in response.getheaders():
            if key.lower() == "location":
                value = self._location(value)
            if key.lower() not in _NOT_FORWARDED:
                reply.append((key, value))
        return response.status, reply, data

    def _batch(self, headers, body: bytes) -> None:
        content_type = self.headers.get("Content-Type", "")
        message = email.parser.BytesParser().parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + body)
        if not message.is_multipart():
            self._reply(400, [("Content-Type", "application/json")],
                        _error(400, "a batch request must be multipart/mixed"))
            return
        boundary = "batch_" + uuid.uuid4().hex
        parts = []
        for part in message.get_payload():
            request = part.get_payload(decode=False)
            request = request.encode("utf-8", "surrogateescape") if isinstance(request, str) \
                else request
            head, _, sub_body = request.replace(b"\r\n", b"\n").partition(b"\n\n")
            request_line, *header_lines = head.decode("utf-8", "replace").split("\n")
            method, url = request_line.split(" ")[:2]
            sub_headers = {"Host": self.headers.get("Host", "")}
            for line in header_lines:
                key, _, value = line.partition(":")
                if key.strip() and key.strip().lower() not in _NOT_FORWARDED:
                    sub_headers[key.strip()] = value.strip()
            target = urllib.parse.urlsplit(url)
            path = target.path + (f"?{target.query}" if target.query else "")
            answer = self._backend(method, path, sub_headers, sub_body.rstrip(b"\n"))
            status, reply, data = answer or (503, [], _error(503, "no answer"))
            self.server.log(f"  batch part {method} {path} {status}")
            lines = [f"HTTP/1.1 {status} {http.client.responses.get(status, '')}"]
            lines += [f"{key}: {value}" for key, value in reply]
            lines += [f"Content-Length: {len(data)}", "", ""]
            content_id = part.get("Content-ID", "").strip("<>")
            parts.append(f"--{boundary}\r\nContent-Type: application/http\r\n"
                         f"Content-ID: <response-{content_id}>\r\n\r\n".encode()
                         + "\r\n".join(lines).encode() + data + b"\r\n")
        self._reply(200, [("Content-Type", f"multipart/mixed; boundary={boundary}")],
                    b"".join(parts) + f"--{boundary}--\r\n".encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward


class FrontServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, backend_port: int, certificate: str, key: str,
                 token: Callable[[], str], log: Callable[[str], None]):
        super().__init__(address, _Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.backend_port = backend_port
        self.token = token
        self.log = log
        self._local = threading.local()

    def backend_connection(self) -> http.client.HTTPConnection:
        """One keep-alive connection to the server per handler thread."""
        if getattr(self._local, "connection", None) is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.backend_port, timeout=300)
            connection.connect()
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.connection = connection
        return self._local.connection

    def drop_backend_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None

    def handle_error(self, request, client_address):  # a client that went away: not ours
        pass


def start(address, backend_port: int, certificate: str, key: str, token: Callable[[], str],
          log: Callable[[str], None]) -> FrontServer:
    server = FrontServer(address, backend_port, certificate, key, token, log)
    threading.Thread(target=server.serve_forever, name="storage-front", daemon=True).start()
    return server
