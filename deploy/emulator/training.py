"""Vertex AI Training's JobService, as far as TFX's Vertex Trainer uses it.

The Trainer step (tfx.extensions.google_cloud_ai_platform.trainer.executor.GenericExecutor)
asks Vertex AI for a custom job whose single worker pool runs `python -m
tfx.scripts.run_executor --executor_class_path tfx.components.trainer.executor.GenericExecutor
--inputs ... --outputs ... --exec-properties ...` in the pipeline image (training_clients.py),
then polls the job. This service answers the stand-in client inside that step (standin.py):
- `create_custom_job` refuses what Vertex refuses, with INVALID_ARGUMENT: a parent whose region
  is not the endpoint's, no worker pool, a pool without machine type, image or command, a
  replica count below 1, an accelerator the machine type does not carry
  (deploy/vertex_rules.py), an image other than the pipeline's (the only image the emulator can
  run: the one built from the Dockerfile). Else it records the request (what TFX asked for:
  machine type, accelerator type and count, image, command) in
  `<job dir>/custom_jobs/<id>.json` and starts the job: PENDING, RUNNING, then SUCCEEDED or
  FAILED;
- the job runs the first worker pool's container command here, in the image layout, like a
  step (processes.py), on this machine's CPU: no GPU is attached, whatever was asked. Only one
  replica runs (replica_count above 1 is recorded, not emulated);
- `get_custom_job` answers once the job has left PENDING/RUNNING (standin.py says why);
  `cancel_custom_job` stops it.
Properties the job sets on artifacts stay in the job, as on Vertex: only files at the output
URIs come back to the step.
"""

import datetime
import json
import os
import random
import re
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from deploy import vertex_rules
from deploy.emulator.service import JsonSocketService, Refused

FINAL_STATES = ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")
_PARENT = re.compile(r"^projects/([^/]+)/locations/([^/]+)$")


class JobRefused(Refused):
    """What Vertex would answer INVALID_ARGUMENT to."""


def _stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def check_request(parent: str, custom_job: Dict[str, Any], endpoint: Optional[str],
                  pipeline_image: str) -> None:
    """Raises JobRefused (naming the field) for a custom job Vertex would not create."""
    match = _PARENT.match(parent or "")
    if not match:
        raise JobRefused(f"parent {parent!r} is not projects/PROJECT/locations/REGION")
    region = match.group(2)
    if endpoint and not endpoint.startswith(f"{region}-aiplatform.googleapis.com"):
        raise JobRefused(f"the job's location {region} is not served by the endpoint {endpoint}"
                         f" (Vertex AI takes a region's jobs at {region}-aiplatform.googleapis"
                         ".com)")
    pools = custom_job.get("job_spec", {}).get("worker_pool_specs") or []
    if not pools:
        raise JobRefused("job_spec.worker_pool_specs is empty")
    for index, pool in enumerate(pools):
        where = f"job_spec.worker_pool_specs[{index}]"
        machine = pool.get("machine_spec", {})
        if not machine.get("machine_type"):
            raise JobRefused(f"{where}.machine_spec.machine_type is required")
        problem = vertex_rules.machine_spec_problem(machine.get("machine_type"),
                                                    machine.get("accelerator_type"),
                                                    machine.get("accelerator_count", 0))
        if problem:
            raise JobRefused(f"{where}.machine_spec: {problem}")
        if int(pool.get("replica_count", 0) or 0) < 1:
            raise JobRefused(f"{where}.replica_count must be at least 1")
        container = pool.get("container_spec", {})
        if not container.get("image_uri"):
            raise JobRefused(f"{where}.container_spec.image_uri is required")
        if not container.get("command"):
            raise JobRefused(f"{where}.container_spec.command is empty")
        if container["image_uri"] != pipeline_image:
            raise JobRefused(f"{where}.container_spec.image_uri {container['image_uri']} is not "
                             f"the pipeline image {pipeline_image}: the emulator runs only the "
                             "image built from the Dockerfile")


class JobService:
    """Custom jobs of one emulated pipeline job. `run_command(argv, task, log) -> exit code`
    runs a container command in the image layout (the emulator's launcher)."""

    def __init__(self, socket_path: str, record_dir: str, log_dir: str, pipeline_image: str,
                 run_command: Callable[[List[str], List[Dict[str, str]], str, str], int],
                 say: Callable[[str], None]):
        self.socket_path = socket_path
        self.record_dir = record_dir
        self.log_dir = log_dir
        self.pipeline_image = pipeline_image
        self.run_command = run_command
        self.say = say
        self.jobs: Dict[str, Dict[str, Any]] = {}
        self._changed = threading.Condition()
        os.makedirs(record_dir, exist_ok=True)
        self._server = JsonSocketService(socket_path, self.handle)

    def close(self) -> None:
        self._server.close()

    # ---- the API ----
    def handle(self, request: Dict[str, Any]) -> Dict[str, Any]:
        method = request.get("method")
        if method == "create_custom_job":
            return {"job": self.create(request)}
        if method == "get_custom_job":
            return {"job": self.get(request["name"], wait=True)}
        if method == "cancel_custom_job":
            self.cancel(request["name"])
            return {"job": self.get(request["name"], wait=False)}
        raise JobRefused(f"method {method!r} is not emulated")

    def create(self, request: Dict[str, Any]) -> Dict[str, Any]:
        custom_job, parent = request.get("custom_job", {}), request.get("parent", "")
        try:
            check_request(parent, custom_job, request.get("endpoint"), self.pipeline_image)
        except JobRefused as error:
            self.say(f"{request.get('task') or 'a step'}: Vertex AI refused the custom job "
                     f"{custom_job.get('display_name', '')!r}: {error}")
            raise
        job_id = str(random.getrandbits(62))
        name = f"{parent}/customJobs/{job_id}"
        job = dict(custom_job, name=name, state="JOB_STATE_PENDING", create_time=_stamp(),
                   update_time=_stamp())
        task = request.get("task", "")
        log = os.path.join(self.log_dir, f"{task or 'task'}.custom-job-{job_id}.log")
        record = {"name": name, "task": task, "parent": parent,
                  "endpoint": request.get("endpoint"), "custom_job": custom_job, "log": log}
        with open(os.path.join(self.record_dir, f"{job_id}.json"), "w") as handle:
            json.dump(record, handle, indent=1, sort_keys=True)
        with self._changed:
            self.jobs[name] = job
            created = dict(job)  # what create answers: PENDING, before the job starts
        pool = custom_job["job_spec"]["worker_pool_specs"][0]
        machine = pool["machine_spec"]
        gpus = (f" with {machine.get('accelerator_count', 0)} x {machine['accelerator_type']}"
                if machine.get("accelerator_type") not in (None, "",
                                                           "ACCELERATOR_TYPE_UNSPECIFIED")
                else "")
        self.say(f"{task}: Vertex AI custom job {job_id} ({custom_job.get('display_name', '')}):"
                 f" {pool.get('replica_count', 1)} x {machine['machine_type']}{gpus}, image "
                 f"{pool['container_spec']['image_uri']}; its container command runs here, on "
                 f"the CPU; log {log}")
        threading.Thread(target=self._run, args=(name, pool, task, log), daemon=True).start()
        return created

    def get(self, name: str, wait: bool) -> Dict[str, Any]:
        with self._changed:
            if name not in self.jobs:
                raise KeyError(f"custom job {name} not found")
            while wait and self.jobs[name]["state"] not in FINAL_STATES:
                self._changed.wait()
            return dict(self.jobs[name])

    def cancel(self, name: str) -> None:
        self._set(name, state="JOB_STATE_CANCELLED")

    # ---- the job itself ----
    def _set(self, name: str, **changes) -> None:
        with self._changed:
            if self.jobs[name]["state"] in FINAL_STATES:
                return
            self.jobs[name].update(changes, update_time=_stamp())
            self._changed.notify_all()

    def _run(self, name: str, pool: Dict[str, Any], task: str, log: str) -> None:
        started = time.time()
        self._set(name, state="JOB_STATE_RUNNING", start_time=_stamp())
        container = pool["container_spec"]
        argv = list(container.get("command", [])) + list(container.get("args", []))
        try:
            code = self.run_command(argv, container.get("env", []), task, log)
        except Exception as error:  # noqa: BLE001 - the job fails, the step hears it
            code, detail = 1, f"{type(error).__name__}: {error}"
        else:
            detail = ""
        seconds = time.time() - started
        if code == 0:
            self._set(name, state="JOB_STATE_SUCCEEDED", end_time=_stamp())
            self.say(f"{task}: custom job {name.rsplit('/', 1)[1]} SUCCEEDED ({seconds:.1f} s)")
        else:
            message = (f"The replica workerpool0-0 exited with a non-zero status of {code}. "
                       f"{detail} See its log: {log}").replace("  ", " ")
            self._set(name, state="JOB_STATE_FAILED", end_time=_stamp(),
                      error={"code": 3, "message": message})
            self.say(f"{task}: custom job {name.rsplit('/', 1)[1]} FAILED ({seconds:.1f} s): "
                     f"{message}")
