"""Inside an emulated step: a stand-in for Vertex AI's JobServiceClient.

TFX's Vertex AI Trainer (tfx/extensions/google_cloud_ai_platform/training_clients.py
VertexJobClient) builds `gapic.JobServiceClient(client_options=dict(api_endpoint=
"<region>-aiplatform.googleapis.com"))`, calls `create_custom_job(parent=..., custom_job=...)`
and then `get_custom_job(name=..., retry=...)` until the job's state is SUCCEEDED, FAILED or
CANCELLED (sleeping 30 s between polls: runner.py _launch_cloud_training). This class has the
real client's signatures (aiplatform 1.165, google.cloud.aiplatform_v1.services.job_service) and
answers with the real `CustomJob` messages, but sends each request to the emulator's JobService
(training.py) over the Unix socket named by VERTEX_EMULATOR_JOB_SERVICE. An error comes back as
the exception the real client raises for it (google.api_core.exceptions.InvalidArgument...).

Differences: no credentials or network are used; `get_custom_job` answers once the job has
left its running states (the real API answers at once with the current state): the executor's
first poll then sees the final state instead of sleeping 30 s per poll.

Installed by `install()` (the step's sitecustomize, or the warm server for a forked step): it
replaces `JobServiceClient` in google.cloud.aiplatform.gapic, google.cloud.aiplatform_v1 and
its job_service package when those modules are imported. This file is copied into the step's
bootstrap directory (processes.py) and imports nothing of the project.
"""

import importlib.abc
import importlib.util
import json
import os
import socket
import sys

SERVICE_ENV = "VERTEX_EMULATOR_JOB_SERVICE"
TASK_ENV = "VERTEX_EMULATOR_TASK"
TARGET_MODULES = ("google.cloud.aiplatform.gapic", "google.cloud.aiplatform_v1",
                  "google.cloud.aiplatform_v1.services.job_service")


def _call(method, **fields):
    """One request to the emulator's JobService; the reply's job dict, or the real client's
    exception for an error reply."""
    path = os.environ.get(SERVICE_ENV)
    if not path:
        raise RuntimeError(f"the Vertex AI emulator's JobService is not reachable ({SERVICE_ENV} "
                           "unset): this stand-in works only inside emulated steps")
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
        request = dict(fields, method=method, task=os.environ.get(TASK_ENV, ""))
        connection.sendall((json.dumps(request) + "\n").encode())
        reply = json.loads(connection.makefile("r").readline())
    finally:
        connection.close()
    if "error" in reply:
        from google.api_core import exceptions

        error = reply["error"]
        cls = {"INVALID_ARGUMENT": exceptions.InvalidArgument,
               "NOT_FOUND": exceptions.NotFound,
               "FAILED_PRECONDITION": exceptions.FailedPrecondition}.get(
            error.get("status"), exceptions.GoogleAPICallError)
        raise cls(error.get("message", ""))
    return reply["job"]


def _job(job_dict):
    from google.cloud.aiplatform_v1.types import custom_job

    return custom_job.CustomJob(job_dict)


def _request_fields(request, request_type, **flattened):
    """The real client's rule: a request object or flattened fields, not both."""
    given = {key: value for key, value in flattened.items() if value is not None}
    if request is not None and given:
        raise ValueError("If the `request` argument is set, then none of the individual field "
                         "arguments should be set.")
    if request is None:
        return given
    from google.cloud.aiplatform_v1.types import job_service

    message = getattr(job_service, request_type)(request)
    return {key: getattr(message, key) for key in flattened}


_DEFAULT = object()


class JobServiceClient:
    """Stand-in for google.cloud.aiplatform_v1.JobServiceClient (the custom-job methods)."""

    def __init__(self, *, credentials=None, transport=None, client_options=None,
                 client_info=None):
        options = client_options or {}
        self.api_endpoint = options.get("api_endpoint") if isinstance(options, dict) else \
            getattr(options, "api_endpoint", None)

    def create_custom_job(self, request=None, *, parent=None, custom_job=None, retry=_DEFAULT,
                          timeout=_DEFAULT, metadata=()):
        from google.cloud.aiplatform_v1.types import custom_job as custom_job_types

        fields = _request_fields(request, "CreateCustomJobRequest", parent=parent,
                                 custom_job=custom_job)
        # The real client turns a dict into the message too: an unknown field fails here.
        job = custom_job_types.CustomJob(fields.get("custom_job") or {})
        as_dict = custom_job_types.CustomJob.to_dict(
            job, use_integers_for_enums=False, preserving_proto_field_name=True)
        return _job(_call("create_custom_job", parent=fields.get("parent", ""),
                          custom_job=as_dict, endpoint=self.api_endpoint))

    def get_custom_job(self, request=None, *, name=None, retry=_DEFAULT, timeout=_DEFAULT,
                       metadata=()):
        fields = _request_fields(request, "GetCustomJobRequest", name=name)
        return _job(_call("get_custom_job", name=fields.get("name", ""),
                          endpoint=self.api_endpoint))

    def cancel_custom_job(self, request=None, *, name=None, retry=_DEFAULT, timeout=_DEFAULT,
                          metadata=()):
        fields = _request_fields(request, "CancelCustomJobRequest", name=name)
        _call("cancel_custom_job", name=fields.get("name", ""), endpoint=self.api_endpoint)


def _patch(module):
    if getattr(module, "JobServiceClient", None) is not JobServiceClient:
        module.JobServiceClient = JobServiceClient


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches the target modules as they are imported (the step may never import them)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in TARGET_MODULES:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module):
            original(module)
            _patch(module)

        loader.exec_module = exec_module
        return spec


def install():
    for name in TARGET_MODULES:
        if name in sys.modules:
            _patch(sys.modules[name])
    if not any(isinstance(finder, _PatchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
