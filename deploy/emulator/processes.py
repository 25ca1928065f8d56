"""Each step in its own process, started the way its container command says.

A step's command is the container's `command` + `args` (placeholders resolved); `python` is the
interpreter of the project's environment (the image's Python and packages stand-in, see
image.py). Two ways to start it:
- cold (`--cold-start`): exactly that command, a fresh `python` process (about 20 s of imports
  per step on a 2-core machine before the step's own work starts);
- warm (the default): `python -m MODULE ARGS` forked from a server that has the third-party
  stack imported already (zygote.py says what that changes). Other command shapes start cold.

The step's stdout and stderr go to its log file. Inside emulated steps only, the Vertex AI
Training client and Model Registry stand-ins are switched on: the step's environment holds the
sockets of the JobService and the Model Registry service (VERTEX_EMULATOR_JOB_SERVICE,
VERTEX_EMULATOR_MODEL_SERVICE) and its PYTHONPATH ends with a bootstrap directory holding only
`sitecustomize.py` and the stand-in module (standin.py), which installs them at interpreter
start.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN_MODULE = "vertex_emulator_standin"
ZYGOTE_SCRIPT = "vertex_emulator_zygote.py"
SERVICE_ENV = "VERTEX_EMULATOR_JOB_SERVICE"  # the JobService socket (training.py)
MODEL_SERVICE_ENV = "VERTEX_EMULATOR_MODEL_SERVICE"  # the Model Registry socket (registry.py)
TASK_ENV = "VERTEX_EMULATOR_TASK"  # which task a custom job request comes from
# What the steps of this pipeline import from the environment: loaded once by the warm server.
PRELOAD = (
    "numpy", "PIL.Image", "tensorflow", "tf_keras", "apache_beam", "tensorflow_transform",
    "tensorflow_transform.beam", "tensorflow_data_validation", "tensorflow_model_analysis",
    "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor",
    "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver",
    "tfx.components.example_gen.base_example_gen_executor",
    "tfx.components.statistics_gen.executor", "tfx.components.example_validator.executor",
    "tfx.components.schema_gen.import_schema_gen.executor", "tfx.components.transform.executor",
    "tfx.components.trainer.executor", "tfx.components.evaluator.executor",
    "tfx.components.pusher.executor", "tfx.dsl.component.experimental.decorators",
    "tfx.extensions.google_cloud_ai_platform.trainer.executor", "tfx.scripts.run_executor",
)
SITECUSTOMIZE = f'''"""Written by deploy/emulator/processes.py: the Vertex AI emulator's stand-ins, on only in
emulated steps (the variable below is set only there)."""
import os

if os.environ.get("{SERVICE_ENV}"):
    import {STANDIN_MODULE}

    {STANDIN_MODULE}.install()
'''


def write_bootstrap(directory: str) -> str:
    """The bootstrap directory: sitecustomize.py, the stand-in and the warm server's script."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "sitecustomize.py"), "w") as handle:
        handle.write(SITECUSTOMIZE)
    shutil.copyfile(os.path.join(HERE, "standin.py"),
                    os.path.join(directory, STANDIN_MODULE + ".py"))
    with open(os.path.join(HERE, "zygote.py")) as source, \
            open(os.path.join(directory, ZYGOTE_SCRIPT), "w") as script:
        script.write(source.read() + '\n\nif __name__ == "__main__":\n    main()\n')
    return directory


class StepFailedToStart(RuntimeError):
    pass


class Launcher:
    """Starts step commands (cold or warm) and waits for them; kills what is left on close."""

    def __init__(self, python: str, bootstrap: str, server_env: Dict[str, str], log: str,
                 cold: bool = False):
        self.python = python
        self.bootstrap = bootstrap
        self.cold = cold
        self._running: Dict[int, str] = {}  # pid -> what
        self._lock = threading.Lock()
        self._server: Optional[subprocess.Popen] = None
        self._socket = os.path.join(tempfile.mkdtemp(prefix="vertex-emulator-"), "zygote")
        self._ready = threading.Event()
        self._server_error: Optional[str] = None
        self._server_log = log
        if not cold:
            threading.Thread(target=self._start_server, args=(server_env,), daemon=True).start()

    # ---- the warm server ----
    def _start_server(self, env: Dict[str, str]) -> None:
        env = {key: value for key, value in env.items() if key != "PYTHONPATH"}
        try:
            with open(self._server_log, "ab") as log:
                self._server = subprocess.Popen(
                    [self.python, os.path.join(self.bootstrap, ZYGOTE_SCRIPT), self._socket,
                     *PRELOAD], cwd=self.bootstrap, env=env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=log)
            line = self._server.stdout.readline()
            if line.strip() != b"ready":
                self._server_error = (f"the warm process server stopped while loading "
                                      f"(exit {self._server.wait()}); see {self._server_log}")
        except OSError as error:
            self._server_error = f"the warm process server did not start: {error}"
        finally:
            self._ready.set()

    def _warm_module(self, argv: List[str]) -> Optional[str]:
        if self.cold or len(argv) < 3 or argv[1] != "-m":
            return None
        return argv[2] if os.path.basename(argv[0]) in ("python", "python3") else None

    # ---- running a step ----
    def resolve(self, argv: List[str]) -> List[str]:
        """The command with `python` meaning the environment's interpreter."""
        if argv and argv[0] in ("python", "python3"):
            return [self.python] + argv[1:]
        return argv

    def run(self, argv: List[str], env: Dict[str, str], cwd: str, log: str,
            what: str = "", on_start: Optional[Callable[[int], None]] = None) -> int:
        """Runs one step command to its end; its exit status (negative: killed by a signal)."""
        module = self._warm_module(argv)
        if module is not None:
            self._ready.wait()
            if self._server_error:
                raise StepFailedToStart(self._server_error)
            return self._run_warm(module, argv[3:], env, cwd, log, what, on_start)
        return self._run_cold(self.resolve(argv), env, cwd, log, what, on_start)

    def _run_cold(self, argv, env, cwd, log, what, on_start) -> int:
        with open(log, "ab") as out:
            try:
                process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                           stdout=out, stderr=subprocess.STDOUT,
                                           start_new_session=True)
            except OSError as error:
                raise StepFailedToStart(f"could not start {argv[0]}: {error}") from error
        self._track(process.pid, what, on_start)
        try:
            return process.wait()
        finally:
            self._untrack(process.pid)

    def _run_warm(self, module, args, env, cwd, log, what, on_start) -> int:
        request = {"module": module, "args": list(args), "cwd": cwd, "env": env, "log": log,
                   "standin": bool(env.get(SERVICE_ENV))}
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(self._socket)
            connection.sendall((json.dumps(request) + "\n").encode())
            reader = connection.makefile("r")
            pid = json.loads(reader.readline())["pid"]
            self._track(pid, what, on_start)
            try:
                line = reader.readline()
            finally:
                self._untrack(pid)
            if not line:
                raise StepFailedToStart(f"the warm process server went away during {what}; "
                                        f"see {self._server_log}")
            return int(json.loads(line)["exit"])
        except (OSError, ValueError, KeyError) as error:
            raise StepFailedToStart(f"the warm process server did not run {what}: {error}; "
                                    f"see {self._server_log}") from error
        finally:
            connection.close()

    def _track(self, pid: int, what: str, on_start) -> None:
        with self._lock:
            self._running[pid] = what
        if on_start:
            on_start(pid)

    def _untrack(self, pid: int) -> None:
        with self._lock:
            self._running.pop(pid, None)

    def close(self) -> None:
        """Stops every step still running (its whole process group) and the warm server."""
        with self._lock:
            running = list(self._running)
        for pid in running:
            try:
                os.killpg(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.time() + 10
        while running and time.time() < deadline:
            running = [pid for pid in running if _alive(pid)]
            time.sleep(0.1)
        for pid in running:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._server is not None and self._server.poll() is None:
            self._server.terminate()
            try:
                self._server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait()
        shutil.rmtree(os.path.dirname(self._socket), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
