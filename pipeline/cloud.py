"""Cloud settings of the pipeline: Kubeflow V2 / Vertex AI Pipelines, Dataflow, Vertex Training,
the Vertex AI Model Registry.

`PipelineConfig.cloud` holds a `CloudConfig` when the pipeline runs on Google Cloud; the same
`create_pipeline(config)` then sends Beam work to Dataflow (when `dataflow` is set), training
to Vertex AI Training (when `vertex_training` is set) and registers each pushed version in the
Model Registry (when `model_registry` is set). Plain dataclasses, no client imports:
a local run never loads the Google Cloud libraries.

Credentials are not settings: every client finds them through Application Default Credentials
(`gcloud auth application-default login`, or the job's service account). Nothing here may hold a
token or key: component parameters end up in the compiled pipeline JSON and in ML Metadata.
"""

import dataclasses
import os
import posixpath
import re
from typing import Any, Dict, List, Optional

GCS_PREFIX = "gs://"
# Where the Dockerfile puts the project in the pipeline image: files the compiled pipeline names
# by path (the schema) must be given as they are there, not on the compiling machine.
IMAGE_PROJECT_DIR = "/pipeline"
# <registry host>/<path>[:tag | @sha256:digest], e.g. us-docker.pkg.dev/p/repo/petseg:1
_IMAGE = re.compile(r"^[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)+(:[\w.-]+|@sha256:[0-9a-f]{64})?$")
_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")  # us-central1, europe-west4
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")  # GCP project id rules
_SECRET_WORDS = ("token", "password", "secret", "private_key", "credential")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _gcs(value: str, name: str) -> None:
    _require(isinstance(value, str) and value.startswith(GCS_PREFIX) and len(value) > 5,
             f"{name} must be a gs:// path (Vertex AI components cannot see local files), "
             f"got {value!r}")


@dataclasses.dataclass
class DataflowConfig:
    """Beam work (ExampleGen, StatisticsGen, Transform, Evaluator) on Dataflow."""

    temp_location: str  # gs://bucket/tmp: Dataflow's staging and temporary files
    machine_type: str = "n1-standard-4"
    max_num_workers: int = 4
    disk_size_gb: int = 50
    # Worker container: the pipeline image (our modules and the locked stack; the Dockerfile
    # puts Beam's boot entrypoint there). None: Dataflow's default Beam image, which lacks
    # this project's modules.
    use_pipeline_image: bool = True

    def validate(self) -> None:
        _gcs(self.temp_location, "dataflow.temp_location")
        _require(bool(self.machine_type), "dataflow.machine_type must be set, e.g. n1-standard-4")
        _require(self.max_num_workers > 0,
                 f"dataflow.max_num_workers must be positive, got {self.max_num_workers}")
        _require(self.disk_size_gb >= 10,
                 f"dataflow.disk_size_gb must be at least 10, got {self.disk_size_gb}")


@dataclasses.dataclass
class VertexTrainingConfig:
    """The Trainer as a Vertex AI custom training job, with a GPU machine spec."""

    machine_type: str = "n1-standard-8"
    accelerator_type: Optional[str] = "NVIDIA_TESLA_T4"  # None: CPU only
    accelerator_count: int = 1
    replica_count: int = 1

    def validate(self) -> None:
        _require(bool(self.machine_type), "vertex_training.machine_type must be set, e.g. "
                                          "n1-standard-8")
        if self.accelerator_type is not None:
            _require(re.match(r"^[A-Z0-9_]+$", self.accelerator_type) is not None,
                     f"vertex_training.accelerator_type must be a Vertex AcceleratorType name "
                     f"such as NVIDIA_TESLA_T4 or NVIDIA_L4, got {self.accelerator_type!r}")
            # Which counts a machine type takes is deploy/vertex_rules.py's table, checked
            # when compiling (kubeflow_v2_runner.py).
            _require(self.accelerator_count >= 1,
                     f"vertex_training.accelerator_count must be 1 or more, got "
                     f"{self.accelerator_count}")
        _require(self.replica_count == 1,
                 f"vertex_training.replica_count must be 1 (run_fn trains on one machine with "
                 f"MirroredStrategy over its GPUs), got {self.replica_count}")

    def machine_spec(self) -> Dict[str, Any]:
        spec: Dict[str, Any] = {"machine_type": self.machine_type}
        if self.accelerator_type is not None:
            spec.update(accelerator_type=self.accelerator_type,
                        accelerator_count=self.accelerator_count)
        return spec


@dataclasses.dataclass
class ModelRegistryConfig:
    """Every pushed version also registered in the Vertex AI Model Registry, as a version of
    one model (components/model_registry.py says how versions, aliases and labels map)."""

    model_id: str  # the registry model's ID (and display name): [a-z_][a-z0-9_-]{0,62}
    # None: Vertex's prebuilt TensorFlow serving container nearest the locked TensorFlow, from
    # the region's Artifact Registry (components/model_registry.py prebuilt_tf_image).
    serving_image: Optional[str] = None
    # An endpoint's display name (created if none has it), ID or resource name: each pushed
    # version is deployed there with 100% of the traffic. None: not deployed.
    endpoint: Optional[str] = None
    endpoint_machine_type: str = "n1-standard-2"

    def validate(self) -> None:
        from components.model_registry import MODEL_ID  # plain names: no client import

        _require(isinstance(self.model_id, str) and MODEL_ID.match(self.model_id) is not None,
                 f"model_registry.model_id must be a Vertex AI model ID (up to 63 of a-z, 0-9, "
                 f"'_', '-'; not starting with a digit or '-'), got {self.model_id!r}")
        _require(self.serving_image is None or _IMAGE.match(self.serving_image) is not None,
                 f"model_registry.serving_image must be a container image reference, got "
                 f"{self.serving_image!r}")
        _require(self.endpoint is None or 0 < len(self.endpoint) <= 128,
                 f"model_registry.endpoint must be an endpoint display name (1-128 characters),"
                 f" ID or resource name, got {self.endpoint!r}")
        _require(bool(self.endpoint_machine_type),
                 "model_registry.endpoint_machine_type must be set, e.g. n1-standard-2")


@dataclasses.dataclass
class CloudConfig:
    """Where the pipeline runs on Google Cloud. The pipeline's own paths (data_dir,
    pipeline_root, serving_dir) are gs:// paths in PipelineConfig."""

    project: str
    region: str
    image: str  # the pipeline image (Dockerfile), used by every component
    dataflow: Optional[DataflowConfig] = None  # None: Beam's DirectRunner inside each step
    vertex_training: Optional[VertexTrainingConfig] = None  # None: train inside the step
    model_registry: Optional[ModelRegistryConfig] = None  # None: the serving directory only

    def validate(self, pipeline_config=None) -> None:
        """Raises ValueError naming the bad setting; with `pipeline_config`, also its paths."""
        _require(isinstance(self.project, str) and _PROJECT.match(self.project) is not None,
                 f"cloud.project must be a Google Cloud project id (6-30 lowercase letters, "
                 f"digits, hyphens), got {self.project!r}")
        _require(isinstance(self.region, str) and _REGION.match(self.region) is not None,
                 f"cloud.region must be a region such as us-central1, got {self.region!r}")
        _require(isinstance(self.image, str) and _IMAGE.match(self.image) is not None,
                 f"cloud.image must be a container image reference such as "
                 f"us-docker.pkg.dev/PROJECT/REPO/petseg:TAG, got {self.image!r}")
        if self.dataflow is not None:
            self.dataflow.validate()
        if self.vertex_training is not None:
            self.vertex_training.validate()
        if self.model_registry is not None:
            self.model_registry.validate()
        if pipeline_config is not None:
            for name in ("data_dir", "pipeline_root", "serving_dir"):
                _gcs(getattr(pipeline_config, name), name)
            check_no_secrets(pipeline_config.beam_args, "beam_args")

    def image_path(self, repo_path: str, repo_root: str) -> str:
        """`repo_path` (a file of this repository) as the pipeline image holds it."""
        return posixpath.join(IMAGE_PROJECT_DIR, os.path.relpath(repo_path, repo_root))

    def dataflow_beam_args(self) -> List[str]:
        """Beam arguments that send every Beam component to Dataflow ([] without dataflow)."""
        if self.dataflow is None:
            return []
        flow = self.dataflow
        args = ["--runner=DataflowRunner", f"--project={self.project}",
                f"--region={self.region}", f"--temp_location={flow.temp_location}",
                f"--machine_type={flow.machine_type}",
                f"--max_num_workers={flow.max_num_workers}",
                f"--disk_size_gb={flow.disk_size_gb}"]
        if flow.use_pipeline_image:
            args.append(f"--sdk_container_image={self.image}")
        return args

    def registry_settings(self, pipeline_name: str) -> Optional[Dict[str, Any]]:
        """What the pusher step needs to register each version (None without a registry):
        plain values, no credentials; the serving image resolved for this TensorFlow."""
        registry = self.model_registry
        if registry is None:
            return None
        image = registry.serving_image
        if image is None:
            import importlib.metadata

            from components.model_registry import prebuilt_tf_image

            # The environment is built from the lock the pipeline image installs.
            image, _ = prebuilt_tf_image(self.region, importlib.metadata.version("tensorflow"))
        return {"project": self.project, "region": self.region,
                "model_id": registry.model_id, "display_name": registry.model_id,
                "serving_image": image, "endpoint": registry.endpoint,
                "endpoint_machine_type": registry.endpoint_machine_type,
                "pipeline_name": pipeline_name}

    def trainer_custom_config(self) -> Dict[str, Any]:
        """The keys TFX's Google Cloud Trainer reads from custom_config (Vertex AI Training)."""
        from tfx.extensions.google_cloud_ai_platform import constants
        from tfx.extensions.google_cloud_ai_platform.trainer import executor

        training = self.vertex_training
        return {
            constants.ENABLE_VERTEX_KEY: True,
            constants.VERTEX_REGION_KEY: self.region,
            executor.TRAINING_ARGS_KEY: {
                "project": self.project,
                "worker_pool_specs": [{
                    "machine_spec": training.machine_spec(),
                    "replica_count": training.replica_count,
                    "container_spec": {"image_uri": self.image},
                }],
            },
        }


def check_no_secrets(values: List[str], name: str) -> None:
    """Refuses arguments that look like credentials: they would be stored in the compiled
    pipeline and in ML Metadata. Credentials come from Application Default Credentials."""
    for value in values:
        lowered = str(value).lower()
        _require(not any(word in lowered for word in _SECRET_WORDS),
                 f"{name} must not carry credentials ({value.split('=')[0]!r}): they end up in "
                 f"the compiled pipeline and ML Metadata; use Application Default Credentials")
