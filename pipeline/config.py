"""The one place the pipeline's settings live.

Runners (local_runner.py, kubeflow_v2_runner.py) build a `PipelineConfig` from their flags and
hand it to `create_pipeline()`; components get their part through their parameters or
`custom_config`. Validation happens here, before any component runs.
"""

import dataclasses
import os
import tempfile
from typing import List, Optional

from components.data_checks import DataCheckSettings  # a plain dataclass: no TFDV import
from pipeline.beam_args import direct_workers_problem
from pipeline.cloud import CloudConfig  # plain dataclasses: no cloud client import
from trainer import features  # names only: no TensorFlow import here
from trainer.settings import TrainerSettings  # a plain dataclass: no TensorFlow import

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_DIR = os.path.join(REPO_ROOT, "schema")
DATA_SOURCES = ("dir", "tfds")
# In a (local) pipeline root: the ML Metadata store, and the lock that keeps one run at a time.
METADATA_FILE = "metadata.sqlite"
RUN_LOCK_FILE = ".run.lock"
DEFAULT_WORK_DIR = os.path.join(REPO_ROOT, "workdir")  # local commands' default parent dir


@dataclasses.dataclass(frozen=True)
class WorkDir:
    """Where local commands put things unless told otherwise: all under one work directory."""

    path: str = DEFAULT_WORK_DIR

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.path, "pipeline_root")

    @property
    def serving_dir(self) -> str:
        return os.path.join(self.path, "serving")

    @property
    def downloads(self) -> str:  # the official archives, and what they unpack to
        return os.path.join(self.path, "downloads")

    @property
    def demo_data(self) -> str:
        return os.path.join(self.path, "demo-data")


@dataclasses.dataclass
class PipelineConfig:
    # Where things are.
    data_dir: str  # the Oxford-IIIT Pet layout, or with data_source "tfds" a TFDS version dir
    pipeline_root: str  # artifacts and (locally) the metadata store
    serving_dir: str  # pushed models: <serving_dir>/<model_name>/<version>/
    pipeline_name: str = "pet-segmentation"
    model_name: str = "pet_unet"
    metadata_path: Optional[str] = None  # default: <pipeline_root>/METADATA_FILE
    data_source: str = "dir"  # "dir": the dataset's directory layout; "tfds": TFDS records
    max_quarantined_fraction: float = 0.05  # per split; more stops ingest
    # Numbered spans: data_dir holds one dataset layout per span, e.g. "span-{SPAN}" for
    # <data_dir>/span-1/images, .../annotations; ExampleGen reads the latest span. None: data_dir
    # itself is the dataset. (components/oxford_pet_example_gen.py split_input_config)
    span_pattern: Optional[str] = None

    # The data gate (components/data_checks.py): train/eval skew and, with spans, drift against
    # the serving model's data, on what ingest measured of the images; what stops, what warns.
    data_checks: DataCheckSettings = dataclasses.field(default_factory=DataCheckSettings)

    # Preprocessing and training: what Transform and the Trainer read (trainer/settings.py).
    trainer: TrainerSettings = dataclasses.field(default_factory=TrainerSettings)

    # Evaluation gate: the metric that blesses a model (one of features.GATE_METRICS; by default
    # pixel accuracy at each image's own size, as native-resolution results are), its minimum on
    # every run, and how far it may fall below the latest blessed model's. The two bounds keep
    # their first names (they bound the gate metric, whichever it is).
    gate_metric: str = features.DEFAULT_GATE_METRIC
    min_pixel_accuracy: float = 0.8  # value threshold, every run (all-background scores ~0.6)
    max_pixel_accuracy_drop: float = 0.0  # change threshold against the latest blessed model

    # Evaluation report (components/evaluation_report.py): the sample grid scores at most
    # report_max_examples eval examples and shows the best and the worst report_samples.
    report_max_examples: int = 256
    report_samples: int = 4

    # Execution. None by default: with any, TFX builds an sdist of itself for each Beam
    # component, which the DirectRunner never reads. More than one DirectRunner worker loses
    # records (pipeline/beam_args.py), so validate() refuses it.
    beam_args: List[str] = dataclasses.field(default_factory=list)
    enable_cache: bool = True
    # Kubeflow V2 / Vertex AI settings (pipeline/cloud.py); None runs everything locally.
    cloud: Optional["CloudConfig"] = None

    def __post_init__(self):
        if self.metadata_path is None:
            self.metadata_path = os.path.join(self.pipeline_root, METADATA_FILE)
        self.validate()

    def validate(self) -> None:
        """Raises ValueError naming the first bad value and what to do about it."""
        def require(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(message)

        require(0.0 <= self.min_pixel_accuracy <= 1.0,
                f"min_pixel_accuracy must be in [0, 1], got {self.min_pixel_accuracy}")
        require(0.0 <= self.max_pixel_accuracy_drop <= 1.0,
                f"max_pixel_accuracy_drop must be in [0, 1], got {self.max_pixel_accuracy_drop}")
        require(isinstance(self.trainer, TrainerSettings),
                f"trainer must be a TrainerSettings (trainer/settings.py), got "
                f"{type(self.trainer).__name__}")
        require(self.data_source in DATA_SOURCES,
                f"data_source must be one of {DATA_SOURCES}, got {self.data_source!r}")
        require(0.0 <= self.max_quarantined_fraction <= 1.0,
                f"max_quarantined_fraction must be in [0, 1], got "
                f"{self.max_quarantined_fraction}")
        require(self.report_max_examples >= 0 and self.report_samples >= 0,
                f"report_max_examples and report_samples must be 0 or more, got "
                f"{self.report_max_examples} and {self.report_samples}")
        require(self.gate_metric in features.GATE_METRICS,
                f"gate_metric must be one of {', '.join(features.GATE_METRICS)}, got "
                f"{self.gate_metric!r}")
        require(self.span_pattern is None or (
            "{SPAN" in self.span_pattern and not os.path.isabs(self.span_pattern)),
                f"span_pattern must be a path relative to data_dir holding {{SPAN}}, e.g. "
                f"'span-{{SPAN}}', got {self.span_pattern!r}")
        require(isinstance(self.data_checks, DataCheckSettings),
                f"data_checks must be a DataCheckSettings (components/data_checks.py), got "
                f"{type(self.data_checks).__name__}")
        self.data_checks.validate()
        problem = direct_workers_problem(self.beam_args)
        require(problem is None, f"beam_args: {problem}")
        if self.cloud is not None:
            self.cloud.validate(self)

    @property
    def model_dir(self) -> str:
        return os.path.join(self.serving_dir, self.model_name)

    @property
    def run_lock_path(self) -> str:
        return os.path.join(self.pipeline_root, RUN_LOCK_FILE)

    def transform_config(self) -> dict:
        """Transform's custom_config (read by trainer/preprocessing.py).

        `class_weights` is there only when Transform computes them, so every other setting
        leaves the Transform graph (and its cache) as it was.
        """
        config = {"image_size": self.trainer.image_size}
        if (features.parse_class_weights(self.trainer.class_weights)
                == features.AUTO_CLASS_WEIGHTS):
            config["class_weights"] = features.AUTO_CLASS_WEIGHTS
        return config


def unwritable_reason(path: str) -> Optional[str]:
    """Why a directory cannot be created or written at `path`, or None if it can.

    Creates nothing: tries a temporary file in the nearest existing parent (the permission
    bits alone do not tell, e.g. for root on a read-only filesystem). URIs (gs://...) are left
    to their runner.
    """
    if "://" in path:
        return None
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"{existing} is a file, not a directory"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        return f"cannot create files in {existing} ({error.strerror})"
    return None


def check_output_dirs(config: PipelineConfig) -> None:
    """ValueError naming the first output directory that cannot be written, and the fix."""
    for name in ("pipeline_root", "serving_dir"):
        path = getattr(config, name)
        reason = unwritable_reason(path)
        if reason:
            raise ValueError(f"{name} {path} cannot be written: {reason}; choose a writable "
                             f"directory (--{name.replace('_', '-')})")
