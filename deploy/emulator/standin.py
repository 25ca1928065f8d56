"""Inside an emulated step: stand-ins for Vertex AI's JobServiceClient and for the Model
Registry and endpoint classes of the aiplatform SDK.

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

The Model Registry stand-ins replace `aiplatform.Model`, `aiplatform.ModelRegistry` and
`aiplatform.Endpoint` (the names components/model_registry.py uses; the classes in
google.cloud.aiplatform.models stay real). Every call is bound to the real method's signature
(inspect.signature of aiplatform 1.165's own method), so a keyword the real SDK lacks fails
with the same TypeError, and the real defaults apply; an argument the stand-in does not
emulate, given a value other than its default, raises NotImplementedError instead of being
dropped. The SDK's client-side steps are done as it does them (`default` added to the aliases
of an upload with is_default_version, traffic allocation by the real
Endpoint._allocate_traffic); the rest goes to the emulator's Model Registry service
(registry.py, socket VERTEX_EMULATOR_MODEL_SERVICE), which refuses what Vertex refuses.
Differences: no credentials, network or long-running operations (every call is synchronous,
`sync` is accepted and ignored); project and location must be given (aiplatform.init's
globals are not emulated); a local artifact_uri is refused where the SDK would stage it to a
bucket; list_versions filters on labels only; nothing is served from an endpoint.

Installed by `install()` (the step's sitecustomize, or the warm server for a forked step): it
replaces `JobServiceClient` in google.cloud.aiplatform.gapic, google.cloud.aiplatform_v1 and
its job_service package, and the three classes in google.cloud.aiplatform, when those modules
are imported. This file is copied into the step's bootstrap directory (processes.py) and
imports nothing of the project.
"""

import datetime
import importlib.abc
import importlib.util
import inspect
import json
import os
import socket
import sys

SERVICE_ENV = "VERTEX_EMULATOR_JOB_SERVICE"
MODEL_SERVICE_ENV = "VERTEX_EMULATOR_MODEL_SERVICE"
TASK_ENV = "VERTEX_EMULATOR_TASK"
PACKAGE = "google.cloud.aiplatform"
TARGET_MODULES = ("google.cloud.aiplatform.gapic", "google.cloud.aiplatform_v1",
                  "google.cloud.aiplatform_v1.services.job_service", PACKAGE)


def _request(env_name, method, **fields):
    """One request to an emulator service; its reply, or the real client's exception for an
    error reply."""
    path = os.environ.get(env_name)
    if not path:
        raise RuntimeError(f"the Vertex AI emulator's service is not reachable ({env_name} "
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
               "ALREADY_EXISTS": exceptions.AlreadyExists,
               "FAILED_PRECONDITION": exceptions.FailedPrecondition,
               "UNIMPLEMENTED": exceptions.MethodNotImplemented}.get(
            error.get("status"), exceptions.GoogleAPICallError)
        raise cls(error.get("message", ""))
    return reply


def _call(method, **fields):
    """One request to the emulator's JobService; the reply's job dict."""
    return _request(SERVICE_ENV, method, **fields)["job"]


def _registry(method, **fields):
    """One request to the emulator's Model Registry service; the reply's result."""
    return _request(MODEL_SERVICE_ENV, method, **fields)["result"]


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


# ---- the Model Registry and endpoints (aiplatform's high-level classes) ----

def _real(class_name):
    """The real aiplatform class (google.cloud.aiplatform.models is never patched)."""
    from google.cloud.aiplatform import models

    return getattr(models, class_name)


def _arguments(class_name, method, args, kwargs, emulated):
    """The call's arguments bound as the real method binds them (the real TypeError for a
    keyword it lacks), its defaults applied; NotImplementedError for an argument outside
    `emulated` given a value other than its default."""
    real = getattr(_real(class_name), method)
    signature = inspect.signature(real)
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    arguments.pop("self", None)
    for name, value in arguments.items():
        if name not in emulated and value != signature.parameters[name].default:
            raise NotImplementedError(f"the Vertex AI emulator's {class_name}.{method} does not "
                                      f"emulate {name}={value!r}")
    return arguments


def _where(arguments):
    project, location = arguments.get("project"), arguments.get("location")
    if not project or not location:
        raise ValueError("the Vertex AI emulator's stand-ins need project and location on every "
                         "call (aiplatform.init's globals are not emulated)")
    return {"project": project, "location": location}


_WHERE = {"project", "location", "credentials"}


def _field(key, copy=lambda value: value):
    """A stand-in's read-only attribute: its registry resource's `key`, a copy of it for a
    list or dict (the real SDK hands out its own)."""
    return property(lambda self: copy(self._resource[key]))


class Model:
    """Stand-in for aiplatform.Model: one version of a registry model."""

    def __init__(self, *args, **kwargs):
        arguments = _arguments("Model", "__init__", (None,) + args, kwargs,
                               {"model_name", "version"} | _WHERE)
        self._where = _where(arguments)
        self._resource = _registry("get_model", name=arguments["model_name"],
                                   version=arguments["version"], **self._where)

    resource_name = _field("name")
    display_name = _field("display_name")
    version_id = _field("version_id")
    version_aliases = _field("version_aliases", list)
    version_description = _field("version_description")
    description = _field("description")
    labels = _field("labels", dict)
    uri = _field("artifact_uri")
    container_spec = _field("container_spec", dict)

    @property
    def name(self):
        return self._resource["name"].rsplit("/", 1)[1]

    @property
    def versioned_resource_name(self):
        return f"{self.resource_name}@{self.version_id}"

    @classmethod
    def upload(cls, *args, **kwargs):
        arguments = _arguments("Model", "upload", args, kwargs, {
            "serving_container_image_uri", "artifact_uri", "model_id", "parent_model",
            "is_default_version", "version_aliases", "version_description", "description",
            "display_name", "labels", "sync", "upload_request_timeout"} | _WHERE)
        where = _where(arguments)
        aliases = list(arguments["version_aliases"] or [])
        if arguments["is_default_version"] and "default" not in aliases:
            aliases.append("default")  # what the SDK adds (ModelRegistry._get_true_alias_list)
        display_name = arguments["display_name"] or _real("Model")._generate_display_name()
        model = {"display_name": display_name, "artifact_uri": arguments["artifact_uri"],
                 "container_spec": {"image_uri": arguments["serving_container_image_uri"]},
                 "labels": arguments["labels"] or {}, "version_aliases": aliases,
                 "version_description": arguments["version_description"],
                 "description": arguments["description"]}
        reply = _registry("upload_model", model=model, model_id=arguments["model_id"],
                          parent_model=arguments["parent_model"], **where)
        return cls(model_name=reply["model"], version=reply["model_version_id"], **where)


class ModelRegistry:
    """Stand-in for aiplatform.ModelRegistry: the versions and aliases of one model."""

    def __init__(self, *args, **kwargs):
        arguments = _arguments("ModelRegistry", "__init__", (None,) + args, kwargs,
                               {"model"} | _WHERE)
        model = arguments["model"]
        if isinstance(model, Model):
            self.model_resource_name, self._where = model.resource_name, dict(model._where)
        else:
            self.model_resource_name, self._where = model, _where(arguments)

    def get_model(self, *args, **kwargs):
        arguments = _arguments("ModelRegistry", "get_model", (None,) + args, kwargs,
                               {"version"})
        return Model(model_name=self.model_resource_name, version=arguments["version"],
                     **self._where)

    def list_versions(self, *args, **kwargs):
        arguments = _arguments("ModelRegistry", "list_versions", (None,) + args, kwargs,
                               {"filter"})
        from google.cloud.aiplatform.models import VersionInfo
        from google.protobuf import timestamp_pb2

        def stamp(text):
            value = timestamp_pb2.Timestamp()
            value.FromDatetime(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")))
            return value

        return [VersionInfo(version_id=entry["version_id"],
                            version_create_time=stamp(entry["version_create_time"]),
                            version_update_time=stamp(entry["version_update_time"]),
                            model_display_name=entry["display_name"],
                            model_resource_name=entry["name"],
                            version_aliases=list(entry["version_aliases"]),
                            version_description=entry["version_description"])
                for entry in _registry("list_model_versions", name=self.model_resource_name,
                                       filter=arguments["filter"], **self._where)]

    def add_version_aliases(self, *args, **kwargs):
        arguments = _arguments("ModelRegistry", "add_version_aliases", (None,) + args, kwargs,
                               {"new_aliases", "version"})
        _registry("merge_version_aliases", name=self.model_resource_name,
                  version=arguments["version"], version_aliases=list(arguments["new_aliases"]),
                  **self._where)

    def remove_version_aliases(self, *args, **kwargs):
        arguments = _arguments("ModelRegistry", "remove_version_aliases", (None,) + args,
                               kwargs, {"target_aliases", "version"})
        _registry("merge_version_aliases", name=self.model_resource_name,
                  version=arguments["version"],
                  version_aliases=[f"-{alias}" for alias in arguments["target_aliases"]],
                  **self._where)


class Endpoint:
    """Stand-in for aiplatform.Endpoint: deployments and traffic are recorded, not served."""

    def __init__(self, *args, **kwargs):
        arguments = _arguments("Endpoint", "__init__", (None,) + args, kwargs,
                               {"endpoint_name"} | _WHERE)
        self._where = _where(arguments)
        name = arguments["endpoint_name"]
        if not name.startswith("projects/"):
            name = (f"projects/{self._where['project']}/locations/{self._where['location']}"
                    f"/endpoints/{name}")
        self._resource = _registry("get_endpoint", name=name)

    @classmethod
    def _of(cls, resource, where):
        endpoint = cls.__new__(cls)
        endpoint._resource, endpoint._where = resource, where
        return endpoint

    @classmethod
    def create(cls, *args, **kwargs):
        arguments = _arguments("Endpoint", "create", args, kwargs, {
            "display_name", "description", "labels", "metadata", "sync",
            "create_request_timeout"} | _WHERE)
        where = _where(arguments)
        display_name = arguments["display_name"] or _real("Endpoint")._generate_display_name()
        return cls._of(_registry("create_endpoint", display_name=display_name,
                                 labels=arguments["labels"] or {},
                                 description=arguments["description"] or "", **where), where)

    @classmethod
    def list(cls, *args, **kwargs):
        arguments = _arguments("Endpoint", "list", args, kwargs, {"filter"} | _WHERE)
        where = _where(arguments)
        return [cls._of(resource, where) for resource in
                _registry("list_endpoints", filter=arguments["filter"], **where)]

    def _sync(self):
        self._resource = _registry("get_endpoint", name=self.resource_name)

    resource_name = _field("name")
    display_name = _field("display_name")

    @property
    def traffic_split(self):
        self._sync()
        return dict(self._resource["traffic_split"])

    def list_models(self):
        from google.cloud.aiplatform_v1.types import endpoint as endpoint_types

        self._sync()
        return [endpoint_types.DeployedModel(
            id=model["id"], model=model["model"], model_version_id=model["model_version_id"],
            display_name=model["display_name"]) for model in self._resource["deployed_models"]]

    def deploy(self, *args, **kwargs):
        arguments = _arguments("Endpoint", "deploy", (None,) + args, kwargs, {
            "model", "deployed_model_display_name", "traffic_percentage", "traffic_split",
            "machine_type", "min_replica_count", "max_replica_count", "accelerator_type",
            "accelerator_count", "metadata", "sync", "deploy_request_timeout"})
        model = arguments["model"]
        if not isinstance(model, Model):
            raise TypeError(f"deploy takes an aiplatform.Model, got {type(model).__name__}")
        self._sync()
        split = arguments["traffic_split"]
        if split is None:  # as the SDK computes it (Endpoint._deploy)
            percentage = arguments["traffic_percentage"] or 0
            if not self._resource["deployed_models"]:
                percentage = 100
            if not 0 <= percentage <= 100:
                raise ValueError("Traffic percentage must be between 0 and 100.")
            split = _real("Endpoint")._allocate_traffic(
                traffic_split=dict(self._resource["traffic_split"]),
                traffic_percentage=percentage)
        reply = _registry("deploy_model", endpoint=self.resource_name,
                          model=model.resource_name, model_version_id=model.version_id,
                          display_name=arguments["deployed_model_display_name"] or
                          model.display_name, traffic_split=split,
                          machine_type=arguments["machine_type"],
                          min_replica_count=arguments["min_replica_count"],
                          max_replica_count=arguments["max_replica_count"],
                          accelerator_type=arguments["accelerator_type"],
                          accelerator_count=arguments["accelerator_count"] or 0)
        self._resource = reply["endpoint"]
        return self

    def undeploy(self, *args, **kwargs):
        arguments = _arguments("Endpoint", "undeploy", (None,) + args, kwargs, {
            "deployed_model_id", "traffic_split", "metadata", "sync"})
        self._resource = _registry("undeploy_model", endpoint=self.resource_name,
                                   deployed_model_id=arguments["deployed_model_id"],
                                   traffic_split=arguments["traffic_split"])

    def update(self, *args, **kwargs):
        arguments = _arguments("Endpoint", "update", (None,) + args, kwargs, {
            "traffic_split", "request_metadata", "update_request_timeout"})
        if arguments["traffic_split"] is not None:
            self._resource = _registry("update_endpoint", endpoint=self.resource_name,
                                       traffic_split=arguments["traffic_split"])
        return self


MODEL_CLASSES = {"Model": Model, "ModelRegistry": ModelRegistry, "Endpoint": Endpoint}


def _patch(module):
    replacements = MODEL_CLASSES if module.__name__ == PACKAGE else \
        {"JobServiceClient": JobServiceClient}
    for name, value in replacements.items():
        if getattr(module, name, None) is not value:
            setattr(module, name, value)


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
