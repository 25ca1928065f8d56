"""The emulator's services (Vertex AI Training's JobService, the Model Registry), each answering
the stand-in clients of emulated steps (standin.py) on a Unix socket: one JSON request per line,
one JSON reply per line. A refusal comes back as {"error": {"status", "message"}}, which the
stand-in raises as the exception the real client raises for that status."""

import json
import socketserver
import threading
from typing import Any, Callable, Dict


class Refused(ValueError):
    """What Vertex answers with an error status instead of a result."""

    def __init__(self, message: str, status: str = "INVALID_ARGUMENT"):
        super().__init__(message)
        self.status = status


class JsonSocketService:
    """Serves `handle(request) -> reply` on `socket_path`, one thread per connection."""

    def __init__(self, socket_path: str, handle: Callable[[Dict[str, Any]], Dict[str, Any]]):
        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline()
                if not line:
                    return
                try:
                    reply = handle(json.loads(line))
                except Refused as error:
                    reply = {"error": {"status": error.status, "message": str(error)}}
                except KeyError as error:
                    reply = {"error": {"status": "NOT_FOUND", "message": str(error.args[0])
                                       if error.args else "not found"}}
                self.wfile.write((json.dumps(reply) + "\n").encode())

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self._server = Server(socket_path, Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
