"""The Vertex AI Model Registry and endpoints, as far as the project uses them.

Emulated steps talk to this service through the stand-in `aiplatform.Model`, `ModelRegistry`
and `Endpoint` (standin.py); it keeps models, their versions, aliases and labels, and
endpoints with their deployed models and traffic split, in one JSON file under the emulator's
state directory (`.vertex-emulator/model_registry.json`), so a second emulated run sees what
the first registered, as Vertex would. It refuses what Vertex refuses (deploy/vertex_rules.py,
each rule's source named there):
- UploadModel: a model_id outside Vertex's rule, or one that exists already (ALREADY_EXISTS)
  when no parent_model is given; a parent_model that does not exist (NOT_FOUND); both at once
  (the emulator's choice: Vertex's answer is not documented); a display name empty or over 128
  characters; labels outside Google Cloud's rules; an alias outside Vertex's pattern, or named
  twice; no serving image, or a Vertex prebuilt prediction image that aiplatform's list of
  documented images lacks (the emulator's choice: Vertex may accept the upload and fail the
  deployment); an artifact_uri that is not gs:// or, with a prebuilt TensorFlow image, holds
  neither saved_model.pb nor saved_model.pbtxt.
- ListModelVersions: a filter other than `labels.KEY="VALUE"` terms joined by AND (the
  emulator evaluates no other).
- Aliases: unique within a model. An alias given to one version (by upload or merge) is taken
  from the version that had it: moved, not duplicated. The first version always gets
  `default`; `default` cannot be removed, only moved. MergeVersionAliases names a version by
  its ID (`models/M@3`), as the API reference says.
- Endpoints: deploying a version that does not exist, a traffic split that does not add up to
  100 or names a model not deployed there, replica counts below 1, undeploying a model that
  still has traffic while others are deployed (FAILED_PRECONDITION).
Nothing is served: a deployment is recorded (machine type, replicas, traffic), no container
starts. Resource names use the emulator's project number, as Vertex's replies do.
Requests carry gs:// URIs as steps have them; an artifact directory is checked in the emulated
Cloud Storage (deploy/storage_emulator), as Vertex checks the bucket.
"""

import datetime
import json
import os
import random
import re
import threading
from typing import Any, Callable, Dict, List, Optional

from deploy import local_gcs, vertex_rules
from deploy.storage_emulator import backend as storage
from deploy.emulator.service import JsonSocketService, Refused

STATE_FILE = "model_registry.json"  # under the emulator's state directory
DEFAULT = "default"
_TF_IMAGE = re.compile(r"/vertex-ai/prediction/tf2?-(cpu|gpu)\.")
_DISPLAY_FILTER = re.compile(r'^\s*display_name\s*=\s*"([^"]*)"\s*$')
_MODEL_NAME = re.compile(r"^projects/([^/]+)/locations/([^/]+)/models/([^/@]+)(?:@(.+))?$")
_LABEL_TERM = re.compile(r'^labels\.([a-z][\w-]*)\s*=\s*(?:"([^"]*)"|([\w-]+))$')
_ENDPOINT_NAME = re.compile(r"^projects/([^/]+)/locations/([^/]+)/endpoints/([^/]+)$")


def _label_filter(text: Optional[str]) -> Dict[str, str]:
    """`labels.a="x" AND labels.b=y` -> {"a": "x", "b": "y"}; the only filters emulated
    (ListModelVersions takes AIP-160 filters on labels, among others)."""
    wanted = {}
    for term in re.split(r"\s+AND\s+", text.strip()) if text and text.strip() else []:
        match = _LABEL_TERM.match(term)
        if not match:
            raise Refused(f"filter {text!r}: the emulator evaluates only labels.KEY=\"VALUE\" "
                          "terms joined by AND")
        wanted[match.group(1)] = match.group(2) if match.group(2) is not None else \
            match.group(3)
    return wanted


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def _prebuilt_images() -> List[str]:
    """aiplatform's list of Vertex's prebuilt prediction images (constants/prediction.py),
    read without importing the aiplatform package (seconds of imports, in every pusher step)."""
    import importlib.util

    package = importlib.util.find_spec("google.cloud.aiplatform")  # does not run the package
    path = os.path.join(os.path.dirname(package.origin), "constants", "prediction.py")
    spec = importlib.util.spec_from_file_location("_aiplatform_prediction_constants", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # plain lists; imports only re and collections
    return list(module.SERVING_CONTAINER_URIS)


class ModelRegistryService:
    """Models and endpoints of the emulated project, persisted in `state_file`."""

    def __init__(self, socket_path: Optional[str], state_file: str, project_number: str,
                 say: Callable[[str], None],
                 prebuilt_images: Callable[[], List[str]] = _prebuilt_images,
                 object_exists: Callable[[str], bool] = storage.exists_uri):
        self.state_file = state_file
        self.project_number = project_number
        self.say = say
        self._object_exists = object_exists
        self._prebuilt_images = prebuilt_images
        self._lock = threading.Lock()
        self.state = {"models": {}, "endpoints": {}}
        if os.path.exists(state_file):
            with open(state_file) as handle:
                self.state = json.load(handle)
        self._server = JsonSocketService(socket_path, self.handle) if socket_path else None

    def close(self) -> None:
        if self._server:
            self._server.close()

    def _save(self) -> None:
        os.makedirs(os.path.dirname(self.state_file), exist_ok=True)
        temporary = self.state_file + ".tmp"
        with open(temporary, "w") as handle:
            json.dump(self.state, handle, indent=1, sort_keys=True)
        os.replace(temporary, self.state_file)

    # ---- requests ----
    def handle(self, request: Dict[str, Any]) -> Dict[str, Any]:
        method = request.pop("method", "")
        task = request.pop("task", "") or "a step"
        handler = getattr(self, f"_{method}", None)
        if handler is None or method.startswith("_"):
            raise Refused(f"method {method!r} is not emulated", "UNIMPLEMENTED")
        with self._lock:
            try:
                result = handler(task=task, **request)
            except Refused as error:
                self.say(f"{task}: Vertex AI refused {method}: {error}")
                raise
            self._save()
            return {"result": result}

    # ---- names ----
    def _location(self, project: str, location: str) -> str:
        if not project or not location:
            raise Refused("project and location are required")
        return f"projects/{self.project_number}/locations/{location}"

    def _model_name(self, name: str, project: str = "", location: str = ""):
        """(model resource name, version or alias or None) for an ID or a resource name."""
        match = _MODEL_NAME.match(name or "")
        if match:
            return (f"projects/{self.project_number}/locations/{match.group(2)}/models/"
                    f"{match.group(3)}"), match.group(4)
        model_id, _, version = (name or "").partition("@")
        return f"{self._location(project, location)}/models/{model_id}", version or None

    def _model(self, resource: str) -> Dict[str, Any]:
        if resource not in self.state["models"]:
            raise KeyError(f"Model {resource} not found")
        return self.state["models"][resource]

    def _version(self, resource: str, version: Optional[str]) -> Dict[str, Any]:
        """A version by ID or alias; None means the `default` one."""
        model = self._model(resource)
        wanted = version or DEFAULT
        for entry in model["versions"]:
            if entry["version_id"] == wanted or wanted in entry["version_aliases"]:
                return entry
        raise KeyError(f"Model {resource}@{wanted} not found")

    def _reply(self, resource: str, entry: Dict[str, Any]) -> Dict[str, Any]:
        return dict(entry, name=resource, display_name=self._model(resource)["display_name"])

    # ---- the Model Registry ----
    def _upload_model(self, task: str, project: str, location: str, model: Dict[str, Any],
                      model_id: Optional[str] = None, parent_model: Optional[str] = None):
        parent = self._location(project, location)
        if model_id and parent_model:
            raise Refused("model_id and parent_model both given: give model_id for a new model, "
                          "parent_model for a new version (the emulator refuses both at once)")
        if parent_model:
            resource, _ = self._model_name(parent_model, project, location)
            entry = self._model(resource)  # NOT_FOUND for a missing parent
        else:
            model_id = model_id or str(random.getrandbits(60))
            problem = vertex_rules.model_id_problem(model_id)
            if problem:
                raise Refused(problem)
            resource = f"{parent}/models/{model_id}"
            if resource in self.state["models"]:
                raise Refused(f"Model {resource} already exists: upload new versions with "
                              "parent_model", "ALREADY_EXISTS")
            entry = None
        display_name = model.get("display_name") or ""
        aliases = list(model.get("version_aliases") or [])
        self._check_upload(model, display_name, aliases)
        if entry is None:
            entry = {"display_name": display_name, "create_time": _now(), "versions": [],
                     "next_version_id": 1}
            self.state["models"][resource] = entry
            if DEFAULT not in aliases:
                aliases.append(DEFAULT)  # the first version is always the default one
        version_id = str(entry["next_version_id"])
        entry["next_version_id"] += 1
        version = {"version_id": version_id, "version_aliases": [],
                   "version_create_time": _now(), "version_update_time": _now(),
                   "artifact_uri": model.get("artifact_uri", ""),
                   "container_spec": model.get("container_spec") or {},
                   "labels": dict(model.get("labels") or {}),
                   "version_description": model.get("version_description") or "",
                   "description": model.get("description") or "", "uploaded_by": task}
        entry["versions"].append(version)
        self._give_aliases(resource, version, aliases)
        self.say(f"{task}: Model Registry: {resource} version {version_id} uploaded "
                 f"({version['artifact_uri']}; aliases {', '.join(version['version_aliases'])})")
        return {"model": resource, "model_version_id": version_id}

    def _check_upload(self, model: Dict[str, Any], display_name: str,
                      aliases: List[str]) -> None:
        """Refused, as the Model Registry answers, for a bad name, label, alias or artifact."""
        if not 0 < len(display_name) <= 128:
            raise Refused(f"display_name must be 1-128 characters, got {display_name!r}")
        problems = vertex_rules.label_problems(model.get("labels") or {})
        if problems:
            raise Refused("; ".join(problems))
        for alias in aliases:
            problem = vertex_rules.alias_problem(alias)
            if problem:
                raise Refused(problem)
        if len(set(aliases)) != len(aliases):
            raise Refused(f"version_aliases names an alias twice: {aliases}")
        self._check_artifact(model)

    def _check_artifact(self, model: Dict[str, Any]) -> None:
        image = (model.get("container_spec") or {}).get("image_uri") or ""
        if not image:
            raise Refused("container_spec.image_uri is required for a model with an "
                          "artifact_uri")
        if vertex_rules.PREBUILT_PREDICTION.match(image) and image not in \
                self._prebuilt_images():
            raise Refused(f"{image} is not one of Vertex AI's prebuilt prediction images "
                          "(aiplatform's list of the documented ones)")
        uri = model.get("artifact_uri") or ""
        if not uri.startswith(local_gcs.GCS_SCHEME):
            raise Refused(f"artifact_uri must be a gs:// URI, got {uri!r}")
        if _TF_IMAGE.search(image):
            found = [name for name in ("saved_model.pb", "saved_model.pbtxt")
                     if self._object_exists(f"{uri.rstrip('/')}/{name}")]
            if len(found) != 1:
                raise Refused(f"Model directory {uri} is expected to contain exactly one of: "
                              "[saved_model.pb, saved_model.pbtxt]", "FAILED_PRECONDITION")

    def _give_aliases(self, resource: str, target: Dict[str, Any], aliases: List[str]) -> None:
        for entry in self._model(resource)["versions"]:
            if entry is not target:
                moved = [alias for alias in aliases if alias in entry["version_aliases"]]
                if moved:
                    entry["version_aliases"] = [alias for alias in entry["version_aliases"]
                                                if alias not in moved]
                    entry["version_update_time"] = _now()
        target["version_aliases"] += [alias for alias in aliases
                                      if alias not in target["version_aliases"]]
        target["version_update_time"] = _now()

    def _get_model(self, task: str, name: str, project: str = "", location: str = "",
                   version: Optional[str] = None):
        resource, in_name = self._model_name(name, project, location)
        return self._reply(resource, self._version(resource, version or in_name))

    def _list_model_versions(self, task: str, name: str, project: str = "",
                             location: str = "", filter: Optional[str] = None):  # noqa: A002
        resource, _ = self._model_name(name, project, location)
        wanted = _label_filter(filter)
        return [self._reply(resource, entry) for entry in self._model(resource)["versions"]
                if all(entry["labels"].get(key) == value for key, value in wanted.items())]

    def _merge_version_aliases(self, task: str, name: str, version: str,
                               version_aliases: List[str], project: str = "",
                               location: str = ""):
        resource, _ = self._model_name(name, project, location)
        if not str(version).isdigit():
            raise Refused(f"name must name the version by its ID (models/M@1234), got "
                          f"@{version}")
        entry = self._version(resource, str(version))
        added = [alias for alias in version_aliases if not alias.startswith("-")]
        removed = [alias[1:] for alias in version_aliases if alias.startswith("-")]
        for alias in added + removed:
            problem = vertex_rules.alias_problem(alias)
            if problem:
                raise Refused(problem)
        if DEFAULT in removed:
            raise Refused("the default alias cannot be removed: give it to another version",
                          "FAILED_PRECONDITION")
        entry["version_aliases"] = [alias for alias in entry["version_aliases"]
                                    if alias not in removed]
        self._give_aliases(resource, entry, added)
        self.say(f"{task}: Model Registry: {resource} version {version} aliases now "
                 f"{', '.join(entry['version_aliases'])}")
        return self._reply(resource, entry)

    # ---- endpoints ----
    def _endpoint(self, name: str) -> Dict[str, Any]:
        match = _ENDPOINT_NAME.match(name or "")
        resource = (f"projects/{self.project_number}/locations/{match.group(2)}/endpoints/"
                    f"{match.group(3)}") if match else name
        if resource not in self.state["endpoints"]:
            raise KeyError(f"Endpoint {name} not found")
        return self.state["endpoints"][resource]

    def _create_endpoint(self, task: str, project: str, location: str, display_name: str,
                         labels: Optional[Dict[str, str]] = None, description: str = ""):
        if not 0 < len(display_name or "") <= 128:
            raise Refused(f"display_name must be 1-128 characters, got {display_name!r}")
        problems = vertex_rules.label_problems(labels or {})
        if problems:
            raise Refused("; ".join(problems))
        resource = f"{self._location(project, location)}/endpoints/{random.getrandbits(60)}"
        self.state["endpoints"][resource] = {
            "name": resource, "display_name": display_name, "labels": dict(labels or {}),
            "description": description, "create_time": _now(), "deployed_models": [],
            "traffic_split": {}, "undeployed_models": []}
        self.say(f"{task}: Vertex AI endpoint {display_name!r} created: {resource}")
        return self.state["endpoints"][resource]

    def _list_endpoints(self, task: str, project: str, location: str,
                        filter: Optional[str] = None):  # noqa: A002 - the API's name
        prefix = self._location(project, location) + "/endpoints/"
        wanted = None
        if filter:
            match = _DISPLAY_FILTER.match(filter)
            if not match:
                raise Refused(f"filter {filter!r}: the emulator evaluates only "
                              'display_name="NAME"')
            wanted = match.group(1)
        return [endpoint for name, endpoint in sorted(self.state["endpoints"].items())
                if name.startswith(prefix) and wanted in (None, endpoint["display_name"])]

    def _get_endpoint(self, task: str, name: str):
        return self._endpoint(name)

    def _check_traffic(self, endpoint: Dict[str, Any], split: Dict[str, int],
                       extra: Optional[str] = None) -> None:
        deployed = {model["id"] for model in endpoint["deployed_models"]} | (
            {extra} if extra else set())
        unknown = sorted(set(split) - deployed)
        if unknown:
            raise Refused(f"traffic_split names {unknown}, not deployed on {endpoint['name']}")
        if any(value < 0 for value in split.values()):
            raise Refused(f"traffic_split has a negative share: {split}")
        if split and sum(split.values()) != 100:
            raise Refused(f"traffic_split must add up to 100, got {split}")
        if not split and deployed:
            raise Refused("traffic_split is empty while models are deployed")

    def _deploy_model(self, task: str, endpoint: str, model: str, model_version_id: str,
                      display_name: str, traffic_split: Dict[str, int], machine_type: str,
                      min_replica_count: int = 1, max_replica_count: int = 1,
                      accelerator_type: Optional[str] = None, accelerator_count: int = 0):
        target = self._endpoint(endpoint)
        resource, _ = self._model_name(model)
        version = self._version(resource, model_version_id)
        if not machine_type:
            raise Refused("dedicated_resources.machine_spec.machine_type is required for a "
                          "custom-trained model")
        problem = vertex_rules.machine_spec_problem(machine_type, accelerator_type,
                                                    accelerator_count)
        if problem:
            raise Refused(f"machine_spec: {problem}")
        if min_replica_count < 1 or max_replica_count < min_replica_count:
            raise Refused(f"replica counts: min {min_replica_count} must be at least 1 and "
                          f"max {max_replica_count} at least min")
        deployed_id = str(random.getrandbits(60))
        split = {deployed_id if key == "0" else key: int(value)
                 for key, value in traffic_split.items()}
        self._check_traffic(target, split, extra=deployed_id)
        target["deployed_models"].append({
            "id": deployed_id, "model": resource, "model_version_id": version["version_id"],
            "display_name": display_name, "machine_type": machine_type,
            "min_replica_count": min_replica_count, "max_replica_count": max_replica_count,
            "create_time": _now(), "deployed_by": task})
        target["traffic_split"] = split
        self.say(f"{task}: endpoint {target['display_name']!r}: {resource} version "
                 f"{version['version_id']} deployed as {deployed_id} on {machine_type} "
                 f"(recorded, nothing is served); traffic {split}")
        return {"deployed_model_id": deployed_id, "endpoint": target}

    def _undeploy_model(self, task: str, endpoint: str, deployed_model_id: str,
                        traffic_split: Optional[Dict[str, int]] = None):
        target = self._endpoint(endpoint)
        models = {model["id"]: model for model in target["deployed_models"]}
        if deployed_model_id not in models:
            raise KeyError(f"deployed model {deployed_model_id} not found on {endpoint}")
        rest = [model_id for model_id in models if model_id != deployed_model_id]
        if traffic_split is None:
            split = {key: value for key, value in target["traffic_split"].items()
                     if key != deployed_model_id}
            if target["traffic_split"].get(deployed_model_id) and rest:
                raise Refused(f"deployed model {deployed_model_id} still has "
                              f"{target['traffic_split'][deployed_model_id]}% of the traffic: "
                              "move it to another deployed model first", "FAILED_PRECONDITION")
        else:
            split = {key: int(value) for key, value in traffic_split.items()}
            if split.get(deployed_model_id):
                raise Refused("the undeployed model must get no traffic")
            split.pop(deployed_model_id, None)
        target["deployed_models"] = [models[model_id] for model_id in rest]
        self._check_traffic(target, split)
        target["traffic_split"] = split
        target["undeployed_models"].append(dict(models[deployed_model_id],
                                                undeploy_time=_now(), undeployed_by=task))
        self.say(f"{task}: endpoint {target['display_name']!r}: deployed model "
                 f"{deployed_model_id} undeployed")
        return target

    def _update_endpoint(self, task: str, endpoint: str, traffic_split: Dict[str, int]):
        target = self._endpoint(endpoint)
        split = {key: int(value) for key, value in traffic_split.items()}
        self._check_traffic(target, split)
        target["traffic_split"] = split
        return target
