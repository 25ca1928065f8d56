"""Pushed versions in the Vertex AI Model Registry: one registry model, one registry version per
serving-directory version.

    serving directory                      Vertex AI Model Registry (model `--vertex-model`)
    <serving_dir>/<model_name>/1/   <->    version "1"  aliases v1
    <serving_dir>/<model_name>/2/   <->    version "2"  aliases v2, blessed, default

The alias `vN` names the registry version that holds serving-directory version N (its
`artifact_uri` is `<serving_dir>/<model_name>/N`); Vertex numbers its own versions, which
agree with N only while every push is registered. `blessed` and `default` (what
`projects/P/locations/R/models/ID` means without a version) follow the serving directory's
newest version, which TF Serving serves. A rollback (`python -m components.model_versions
rollback DIR K`) copies K to a new version M; here M's alias `vM`, `blessed` and `default` move
to the registry version that already holds K (found by its alias `vK`), nothing is uploaded.

Each registry version carries labels (Google Cloud's label rules: at most 64; keys 1-63 and
values 0-63 characters of lowercase letters, digits, `_` and `-`, keys starting with a letter):
`pipeline`, `pipeline_run` (the Vertex pipeline job), `serving_version`, `pushed_at`,
`data_span`, `baseline_version`, `architecture`, `rolled_back_from`, and the candidate's
evaluation metrics. A label value cannot hold a `.`, so a metric is written with four decimals
and `_` for the decimal point (0.9123 -> `0_9123`); the exact numbers are in the version's
description and in push_manifest.json. Values longer than 63 characters keep 54 and a hash.

Idempotent: a registry version is identified by its labels `serving_version` and `pushed_at`
(from push_manifest.json; looked up by its alias `vN`, else by a label filter), so a rerun of
the same push (Vertex retrying the step, a rerun of the pipeline) finds the version it
registered and only completes what is missing (aliases, the endpoint); it never uploads a
second one. Two pushers registering the same version at the same
instant could both upload (the registry has no create-if-absent): run one pipeline at a time per
serving directory, as the serving directory already requires.

The settings come from the pipeline config (pipeline/cloud.py ModelRegistryConfig) and are kept
in each version's manifest (`vertex_model`), so a rollback knows which registry model to update.
Credentials: Application Default Credentials only (the job's service account on Vertex AI).
No TensorFlow; `google.cloud.aiplatform` is imported only when a registry is used.
"""

import datetime
import hashlib
import math
import os
import re
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

from cli import exits
from serving.manifest import read_manifest
from serving.versions import existing_versions

MANIFEST_KEY = "vertex_model"  # push_manifest.json: the registry settings of the push
BLESSED = "blessed"
DEFAULT = "default"  # Vertex's own alias: the version a model name without @version means
# Model IDs: "up to 63 characters, and valid characters are [a-z0-9_-]. The first character
# cannot be a number or hyphen." (aiplatform 1.165 Model.upload, model_id)
MODEL_ID = re.compile(r"^[a-z_][a-z0-9_-]{0,62}$")
ENDPOINT_MACHINE_TYPE = "n1-standard-2"  # the smallest the prebuilt TF containers suggest
# Vertex AI's prebuilt TensorFlow 2 prediction containers, "Prebuilt containers for inference"
# (cloud.google.com/vertex-ai/docs/predictions/pre-built-containers, read for this project):
# TF 2.1 to 2.15, CPU and GPU, each in the us, europe and asia Artifact Registry
# repositories, tag `latest` only ("Using image names without the latest tag isn't
# supported"). There is none for 2.16 (the locked TensorFlow): the nearest older one is used.
# tests/test_model_registry.py checks this table against aiplatform's own list.
PREBUILT_TF_VERSIONS = tuple((2, minor) for minor in range(1, 16))
PREBUILT_HOSTS = {"us": "us-docker.pkg.dev", "europe": "europe-docker.pkg.dev",
                  "asia": "asia-docker.pkg.dev"}
LABEL_LENGTH = 63
MAX_LABELS = 64
METRIC_DECIMALS = 4


class RegistryError(RuntimeError):
    """The Model Registry (or the endpoint) refused or could not be reached; one line why."""


def version_alias(version: int) -> str:
    return f"v{int(version)}"


def prebuilt_tf_image(region: str, tf_version: str, gpu: bool = False) -> Tuple[str, str]:
    """(image URI, a note) of Vertex's prebuilt TF serving container nearest `tf_version`.

    The newest documented version not newer than `tf_version` (a SavedModel is read by the same
    or a newer TensorFlow; TF Serving 2.15 reading a 2.16 export is what the note says).
    Regions outside the us/europe/asia repositories get the us one (every repository holds the
    same image)."""
    major, minor = (int(part) for part in tf_version.split(".")[:2])
    older = [pair for pair in PREBUILT_TF_VERSIONS if pair <= (major, minor)]
    chosen = older[-1] if older else PREBUILT_TF_VERSIONS[0]
    host = PREBUILT_HOSTS.get(region.split("-", 1)[0], PREBUILT_HOSTS["us"])
    kind = "gpu" if gpu else "cpu"
    uri = f"{host}/vertex-ai/prediction/tf2-{kind}.{chosen[0]}-{chosen[1]}:latest"
    note = "" if chosen == (major, minor) else (
        f"Vertex AI has no prebuilt serving container for TensorFlow {major}.{minor}; "
        f"{chosen[0]}.{chosen[1]} (the newest older one) serves the model: its ops exist there, "
        f"but check it, or give a TF Serving {major}.{minor} image (--vertex-serving-image)")
    return uri, note


# ---- labels ----

def _label_char(char: str) -> bool:
    """Lowercase letters (international ones too), digits, underscore, dash."""
    return char in "_-" or char.isdigit() or (char.isalpha() and not char.isupper())


def label_value(text: Any) -> str:
    """`text` as a valid label value: lowercased, other characters as `_`, at most 63
    characters (a longer one keeps 54 and 8 hex digits of its SHA-256)."""
    text = str(text)
    value = "".join(char if _label_char(char) else "_" for char in text.lower())
    if len(value) > LABEL_LENGTH:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        value = f"{value[:LABEL_LENGTH - 9]}-{digest}"
    return value


def label_key(text: Any) -> str:
    """`text` as a valid label key: a label value that starts with a letter (else `m_`)."""
    key = label_value(text)
    if not key or not (key[0].isalpha()):
        key = label_value(f"m_{key}")
    return key


def metric_label(value: float) -> str:
    """0.91234 -> '0_9123' (a label value cannot hold a '.'); 'nan', 'inf', '-inf' as such."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{METRIC_DECIMALS}f}".replace(".", "_")


def pushed_at_label(pushed_at: str) -> str:
    """'2026-11-22T00:59:32+00:00' (push_manifest.json) -> '20261122t005932z'."""
    try:
        moment = datetime.datetime.fromisoformat(pushed_at)
    except (TypeError, ValueError):
        return label_value(pushed_at)
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y%m%dt%H%M%Sz")


def labels_for(manifest: Dict[str, Any], settings: Dict[str, Any]) -> Dict[str, str]:
    """The registry version's labels, from its push manifest (see the module docstring)."""
    blessing = manifest.get("blessing") or {}
    baseline = blessing.get("baseline") or {}
    data = manifest.get("data") or {}
    labels = {"pipeline": label_value(settings.get("pipeline_name") or ""),
              "serving_version": str(manifest["version"]),
              "pushed_at": pushed_at_label(manifest.get("pushed_at", ""))}
    optional = {"pipeline_run": manifest.get("pipeline_run"), "data_span": data.get("span"),
                "baseline_version": baseline.get("version"),
                "architecture": manifest.get("architecture"),
                "rolled_back_from": manifest.get("rolled_back_from")}
    labels.update({key: label_value(value) for key, value in optional.items()
                   if value is not None})
    for name, value in sorted((blessing.get("metrics") or {}).items()):
        if len(labels) >= MAX_LABELS:
            break
        if isinstance(value, (int, float)) and name != "example_count":
            labels.setdefault(label_key(name), metric_label(float(value)))
    return labels


def description_for(manifest: Dict[str, Any], artifact_uri: str) -> str:
    """The version's description: what the labels say, with exact numbers."""
    blessing = manifest.get("blessing") or {}
    metrics = blessing.get("metrics") or {}
    baseline = blessing.get("baseline") or {}
    data = manifest.get("data") or {}
    parts = [f"Serving-directory version {manifest['version']} ({artifact_uri}), pushed "
             f"{manifest.get('pushed_at', '?')}"]
    if manifest.get("pipeline_run"):
        parts.append(f"pipeline run {manifest['pipeline_run']}")
    if manifest.get("rolled_back_from"):
        parts.append(f"a copy of version {manifest['rolled_back_from']} (rollback)")
    if "span" in data:
        parts.append(f"data span {data['span']}")
    shown = [f"{name} {metrics[name]:.6f}" for name in ("pixel_accuracy", "mean_iou")
             if isinstance(metrics.get(name), (int, float))]
    if shown:
        parts.append(", ".join(shown))
    if baseline.get("version") is not None:
        parts.append(f"beat version {baseline['version']}")
    return "; ".join(parts)


def vertex_pipeline_job(tmp_path: str) -> Optional[str]:
    """The Vertex pipeline job id from an executor's temp path, or None.

    TFX's Vertex entrypoint (kubeflow_v2_run_executor.py) puts the temp dir in the task root,
    `{gcsOutputDirectory}/{project_number}/{pipeline_job_id}/{task}_{uuid}/.temp/`, a layout
    its own comment documents."""
    parts = [part for part in tmp_path.replace("\\", "/").split("/") if part]
    if ".temp" not in parts:
        return None
    task_root = parts[:parts.index(".temp")]
    if len(task_root) >= 3 and task_root[-3].isdigit():
        return task_root[-2]
    return None


def pipeline_run(context) -> Optional[str]:
    """The pipeline run an executor runs in: the context's run id (LocalDagRunner), or the
    Vertex job id from its temp path; None when neither is known."""
    if context is None:
        return None
    if getattr(context, "pipeline_run_id", None):
        return context.pipeline_run_id
    try:
        return vertex_pipeline_job(context.get_tmp_path())
    except RuntimeError:  # no temp path in this context
        return None


# ---- the registry ----

def settings_for(model_dir: str, version: int) -> Optional[Dict[str, Any]]:
    """The registry settings recorded with `version`, else with the newest version below it
    that has any (a rollback to a version pushed before registration was turned on)."""
    for candidate in sorted((v for v in existing_versions(model_dir)
                             if v <= version), reverse=True):
        settings = read_manifest(model_dir, candidate).get(MANIFEST_KEY)
        if settings:
            return settings
    return None


def _errors():
    """The exceptions that mean "the registry said no, or could not be reached"."""
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions

    return (api_exceptions.GoogleAPICallError, auth_exceptions.GoogleAuthError, ValueError)


def _not_found():
    from google.api_core import exceptions

    return exceptions.NotFound


def _is_this_push(model, model_dir: str, version: int) -> bool:
    """Whether a registry version holds serving-directory version `version` of this push."""
    manifest = read_manifest(model_dir, version)
    labels = dict(model.labels or {})
    return (labels.get("serving_version") == str(version) and
            labels.get("pushed_at") == pushed_at_label(manifest.get("pushed_at", "")))


def _registered(registry, model_dir: str, version: int):
    """The registry version that holds serving-directory version `version`, or None: the one
    its alias names, else one whose labels say so (its aliases were lost or moved)."""
    try:
        model = registry.get_model(version=version_alias(version))
        if _is_this_push(model, model_dir, version):
            return model
    except _not_found():  # no such alias, or no such model yet
        pass
    pushed_at = read_manifest(model_dir, version).get("pushed_at", "")
    try:
        found = registry.list_versions(filter=(
            f'labels.serving_version="{version}" AND '
            f'labels.pushed_at="{pushed_at_label(pushed_at)}"'))
    except _not_found():
        return None
    for info in found:
        model = registry.get_model(version=info.version_id)
        if _is_this_push(model, model_dir, version):
            return model
    return None


def register_version(model_dir: str, version: int, settings: Optional[Dict[str, Any]] = None,
                     out: Callable[[str], None] = print) -> Optional[Dict[str, Any]]:
    """Makes the registry agree with serving-directory version `version` (see the module
    docstring); returns what it holds ({"model", "version_id", "aliases", "uploaded",
    "endpoint"}), or None when no registry is configured for this model directory.

    Raises RegistryError with one line saying what failed."""
    settings = settings or settings_for(model_dir, version)
    if not settings:
        return None
    try:
        return _register(model_dir, version, settings, out)
    except _errors() as error:
        raise RegistryError(
            f"Vertex AI Model Registry ({settings.get('project')}, {settings.get('region')}, "
            f"model {settings.get('model_id')}): {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}") from error


def _register(model_dir: str, version: int, settings: Dict[str, Any],
              out: Callable[[str], None]) -> Dict[str, Any]:
    from google.cloud import aiplatform

    where = dict(project=settings["project"], location=settings["region"])
    manifest = read_manifest(model_dir, version)
    newest = existing_versions(model_dir)[-1] == version
    wanted = [version_alias(version)] + ([BLESSED, DEFAULT] if newest else [])
    registry = aiplatform.ModelRegistry(model=settings["model_id"], **where)
    source = manifest.get("rolled_back_from")  # a rollback's copy: K's registry version
    model = _registered(registry, model_dir, int(source)) if source else None
    if model is None:
        model = _registered(registry, model_dir, version)
        if source and model is None:
            out(f"[ModelRegistry] version {source} is not in the registry: its copy, version "
                f"{version}, is uploaded")
    uploaded = model is None
    if uploaded:
        model = _upload(aiplatform, settings, model_dir, version, manifest, wanted, newest,
                        where)
    else:
        missing = [alias for alias in wanted if alias not in (model.version_aliases or [])]
        if missing:
            registry.add_version_aliases(new_aliases=missing, version=model.version_id)
            model = registry.get_model(version=model.version_id)
    result = {"model": model.resource_name, "version_id": model.version_id,
              "aliases": sorted(model.version_aliases or []), "uploaded": uploaded,
              "endpoint": None}
    what = "uploaded as" if uploaded else "is"
    out(f"[ModelRegistry] serving version {version} {what} {model.resource_name} version "
        f"{model.version_id} (aliases {', '.join(result['aliases'])})")
    if settings.get("endpoint") and newest:
        result["endpoint"] = deploy_to_endpoint(aiplatform, settings, model, where, out)
    return result


def _upload(aiplatform, settings, model_dir, version, manifest, aliases, newest, where):
    try:  # the first push creates the model, the others add versions to it
        aiplatform.Model(model_name=settings["model_id"], **where)
        exists = True
    except _not_found():
        exists = False
    artifact_uri = os.path.join(model_dir, str(version))
    return aiplatform.Model.upload(
        serving_container_image_uri=settings["serving_image"],
        artifact_uri=artifact_uri,
        model_id=None if exists else settings["model_id"],
        parent_model=settings["model_id"] if exists else None,
        is_default_version=newest,  # "default" moves to the new version
        version_aliases=[alias for alias in aliases if alias != DEFAULT],
        version_description=description_for(manifest, artifact_uri),
        display_name=settings.get("display_name") or settings["model_id"],
        labels=labels_for(manifest, settings),
        sync=True, **where)


# ---- the endpoint ----

def _find_endpoint(aiplatform, settings, where, out):
    """The endpoint `settings["endpoint"]` names: an endpoint ID or resource name, or the
    display name of exactly one endpoint (created when there is none)."""
    name = settings["endpoint"]
    if name.isdigit() or name.startswith("projects/"):
        return aiplatform.Endpoint(endpoint_name=name, **where)
    found = aiplatform.Endpoint.list(filter=f'display_name="{name}"', **where)
    if len(found) > 1:
        raise ValueError(f"{len(found)} endpoints are named {name!r} "
                         f"({', '.join(e.resource_name for e in found)}): give one's ID")
    if found:
        return found[0]
    out(f"[ModelRegistry] creating endpoint {name!r}")
    return aiplatform.Endpoint.create(
        display_name=name, labels={"pipeline": label_value(settings.get("pipeline_name", ""))},
        sync=True, **where)


def _model_of(deployed) -> str:
    """A deployed model's registry model, without the `@version` its name may carry."""
    return deployed.model.split("@", 1)[0]


def deploy_to_endpoint(aiplatform, settings, model, where, out) -> Dict[str, Any]:
    """Serves `model` (one registry version) from the endpoint with 100% of its traffic, then
    undeploys this registry model's other versions there (they get no traffic and would keep
    their machines). Idempotent: a version already deployed is not deployed again."""
    endpoint = _find_endpoint(aiplatform, settings, where, out)
    ours = [deployed for deployed in endpoint.list_models()
            if _model_of(deployed) == model.resource_name]
    current = [d for d in ours if d.model_version_id == model.version_id]
    if not current:
        out(f"[ModelRegistry] deploying version {model.version_id} to {endpoint.resource_name}"
            f" ({settings.get('endpoint_machine_type') or ENDPOINT_MACHINE_TYPE}, 100% of the "
            "traffic); this takes minutes on Vertex AI")
        endpoint.deploy(model=model, deployed_model_display_name=(
            f"{model.display_name}-{model.version_id}"), traffic_percentage=100,
            machine_type=settings.get("endpoint_machine_type") or ENDPOINT_MACHINE_TYPE,
            min_replica_count=1, max_replica_count=1, sync=True)
        current = [d for d in endpoint.list_models() if _model_of(d) == model.resource_name
                   and d.model_version_id == model.version_id]
    deployed_id = current[0].id
    if endpoint.traffic_split.get(deployed_id) != 100:
        endpoint.update(traffic_split={deployed_id: 100})
    for other in ours:
        if other.model_version_id != model.version_id:
            out(f"[ModelRegistry] undeploying version {other.model_version_id} "
                f"(deployed model {other.id}) from {endpoint.resource_name}")
            endpoint.undeploy(deployed_model_id=other.id, sync=True)
    return {"endpoint": endpoint.resource_name, "deployed_model_id": deployed_id,
            "traffic_split": dict(endpoint.traffic_split)}


def main(argv: Optional[List[str]] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m components.model_registry",
        description="Make the Vertex AI Model Registry agree with a serving-directory version "
                    "(what the pusher and `rollback` do): upload it if it is not registered, "
                    "move its aliases, deploy it to the endpoint. For a push or rollback whose "
                    "registry step failed. Uses Application Default Credentials.",
        epilog=exits.epilog(failed="the Model Registry or the endpoint refused or could not "
                                   "be reached"))
    parser.add_argument("model_dir", help="<serving-dir>/<model-name>, e.g. "
                                          "gs://BUCKET/petseg/serving/pet_unet")
    parser.add_argument("version", type=int, help="the serving-directory version")
    args = parser.parse_args(argv)
    try:
        if args.version not in existing_versions(args.model_dir):
            raise ValueError(f"{args.model_dir} has no version {args.version}")
        result = register_version(args.model_dir, args.version)
    except (ValueError, OSError, RegistryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return exits.FAILED if isinstance(error, RegistryError) else exits.BAD_INPUT
    if result is None:
        print(f"error: no version of {args.model_dir} up to {args.version} was pushed with a "
              "Model Registry (kubeflow_v2_runner.py --vertex-model)", file=sys.stderr)
        return exits.BAD_INPUT
    return exits.OK


if __name__ == "__main__":
    sys.exit(main())
