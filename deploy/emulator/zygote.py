"""A warm Python process that forks one child per step command `python -m MODULE ARGS...`.

Importing TFX costs about 20 s a process on a 2-core machine, and a pipeline run starts a dozen
step processes. This server imports the heavy third-party stack once (never a module of the
project: it starts outside the image layout, without PYTHONPATH), then for each request forks a
child that becomes what `python -m MODULE ARGS` would be in the step: its own process (own
session, stdout and stderr to the step's log, stdin from /dev/null), the step's working
directory and environment, `sys.path` as `python -m` builds it from them (working directory,
then PYTHONPATH, then the interpreter's own paths), `sys.argv`, and the module run as
`__main__` (runpy, as `-m` does). The child's exit status is the step's.

What differs from a fresh interpreter: the preloaded third-party modules are already imported
(read before the step's environment was set: the same environment except PYTHONPATH), and the
child is a fork, not an exec. The project's own modules, all imported from the step's paths, are
unaffected: a module the image lacks is missing in the step. `python -m deploy.emulate
--cold-start` runs every step as a fresh `python` process instead.

Protocol (one JSON object per line on a Unix socket): request {"module", "args", "cwd",
"env", "log", "standin"}; replies {"pid": N}, then {"exit": CODE} (negative: killed by that
signal). Started as `python vertex_emulator_zygote.py SOCKET MODULE...` (the copy
processes.write_bootstrap makes, which calls main()); prints "ready" on stdout once loaded.
Not a command of the project: it has no `__main__` block of its own.
"""

import importlib
import json
import os
import runpy
import selectors
import socket
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def _preload(modules):
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing one is imported by the step, or fails there
            print(f"zygote: could not preload {name}:", file=sys.stderr)
            traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()


def _read_line(connection):
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
    return json.loads(data)


def _send(connection, message):
    try:
        connection.sendall((json.dumps(message) + "\n").encode())
    except OSError:
        pass  # the requester went away; the child runs on


def serve(socket_path):
    """Answers requests; returns a request only in a forked child."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(16)
    parent = os.getppid()
    selector = selectors.DefaultSelector()
    selector.register(server, selectors.EVENT_READ)
    children = {}
    print("ready", flush=True)
    while True:
        for key, _ in selector.select(timeout=0.2):
            connection, _ = server.accept()
            request = _read_line(connection)
            if request is None:
                connection.close()
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                selector.close()
                server.close()
                for other in children.values():
                    other.close()
                connection.close()
                return request
            children[pid] = connection
            _send(connection, {"pid": pid})
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            connection = children.pop(pid, None)
            if connection is not None:
                code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else \
                    os.WEXITSTATUS(status)
                _send(connection, {"exit": code})
                connection.close()
        if os.getppid() != parent:  # the emulator is gone: so is its server
            os._exit(0)


def become_step(request, base_path):
    """In the forked child: the step's process state, then its module as __main__."""
    os.setsid()
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    python_path = [os.path.abspath(entry) for entry in
                   request["env"].get("PYTHONPATH", "").split(os.pathsep) if entry]
    sys.path[:] = [request["cwd"]] + python_path + base_path
    importlib.invalidate_caches()
    if request.get("standin"):  # what the step's sitecustomize does in a fresh interpreter
        sys.modules["vertex_emulator_standin"].install()
    sys.argv = [request["module"]] + list(request["args"])
    # In a fresh interpreter the main module is not imported before it runs as __main__.
    sys.modules.pop(request["module"], None)
    runpy._run_module_as_main(request["module"], alter_argv=True)  # what `python -m` calls


def exit_code(code) -> int:
    """SystemExit's code as the interpreter turns it into an exit status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def finish(code: int) -> None:
    """The interpreter's exit, up to the module teardown: wait for non-daemon threads, run the
    atexit handlers, flush stdio; then leave without tearing the preloaded modules down (seconds
    for TensorFlow's and TFX's modules, on every step), as multiprocessing's forked children
    leave (os._exit after its exit function).
    """
    import atexit
    import threading

    try:
        threading._shutdown()  # what Py_FinalizeEx calls first
    except Exception:  # noqa: BLE001
        traceback.print_exc()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    os._exit(code)


def main():
    socket_path, modules = sys.argv[1], sys.argv[2:]
    base_path = [entry for entry in sys.path if os.path.abspath(entry or ".") != HERE]
    _preload(modules)
    import vertex_emulator_standin  # noqa: F401,E402 - copied beside this file at run time
    request = serve(socket_path)
    try:
        become_step(request, base_path)
        code = 0
    except SystemExit as stop:
        code = exit_code(stop.code)
    except BaseException:  # noqa: BLE001 - printed as the interpreter prints it
        sys.excepthook(*sys.exc_info())
        code = 1
    finish(code)

