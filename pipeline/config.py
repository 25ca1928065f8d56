"""The one place the pipeline's settings live.

Runners (local_runner.py, kubeflow_v2_runner.py) build a `PipelineConfig` from their flags and
hand it to `create_pipeline()`; components get their part through their parameters or
`custom_config`. Validation happens here, before any component runs.
"""

import dataclasses
import os
import tempfile
from typing import List, Optional

from pipeline.cloud import CloudConfig  # plain dataclasses: no cloud client import
from trainer import features  # names only: no TensorFlow import here

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINER_DIR = os.path.join(REPO_ROOT, "trainer")
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

    # Preprocessing and training.
    architecture: str = features.MOBILENET_V2_UNET  # one of features.ARCHITECTURES
    image_size: int = 128  # square side after Transform; a multiple of 32
    epochs: int = 10
    batch_size: int = 16
    learning_rate: float = 1e-3
    encoder_weights: str = "imagenet"  # "imagenet", a weights file path, or "none"
    train_encoder: Optional[bool] = None  # None: trained when no pretrained weights loaded
    batchnorm_momentum: Optional[float] = 0.9  # None: Keras defaults (0.999 in MobileNetV2)
    # Class-weighted loss: None (off), "auto" (inverse pixel frequency of the training masks,
    # computed by a tf.Transform analyzer) or one weight per class, "pet,background,border".
    class_weights: Optional[str] = None
    seed: int = 0
    # Warm start: the Trainer starts from the latest blessed model's weights, when there is
    # one, and trains warm_start_epochs instead of epochs.
    warm_start: bool = False
    warm_start_epochs: int = 2
    # GPU speed-ups: None ("auto") turns each on iff the Trainer sees a GPU.
    mixed_precision: Optional[bool] = None  # float16 compute; logits and loss stay float32
    xla: Optional[bool] = None  # XLA-compiled train/eval steps
    # Fine-tuning, as the TF tutorial suggests and TFX's former cifar10 example did: with
    # pretrained encoder weights loaded (and frozen for the first `epochs`), fine_tune_epochs
    # more with the encoder unfrozen, its BatchNorm layers kept in inference mode, at
    # fine_tune_learning_rate (None: a tenth of learning_rate). Without pretrained weights the
    # Trainer says it does nothing (the encoder then trains from the first epoch).
    fine_tune_epochs: int = 0
    fine_tune_learning_rate: Optional[float] = None
    # The Trainer keeps decoded examples in memory after the first epoch (8-bit pixels and
    # class ids, 64 KB an example at 128 px): later epochs skip gunzip and parsing. Off for
    # data larger than memory.
    cache_examples: bool = True

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

    # Execution.
    beam_args: List[str] = dataclasses.field(default_factory=list)
    # Added to beam_args for ingest only: decoding and checking images is parallel work
    # (bench/INGEST.md: multi_threading beat in_memory and multi_processing on 2 cores).
    ingest_beam_args: List[str] = dataclasses.field(default_factory=lambda: [
        "--direct_running_mode=multi_threading", f"--direct_num_workers={os.cpu_count() or 1}"])
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

        require(self.image_size >= 32 and self.image_size % 32 == 0,
                f"image_size must be a positive multiple of 32 (the encoder halves it five "
                f"times), got {self.image_size}")
        require(self.epochs > 0, f"epochs must be positive, got {self.epochs}")
        require(self.batch_size > 0, f"batch_size must be positive, got {self.batch_size}")
        require(self.learning_rate > 0, f"learning_rate must be positive, got "
                                        f"{self.learning_rate}")
        require(0.0 <= self.min_pixel_accuracy <= 1.0,
                f"min_pixel_accuracy must be in [0, 1], got {self.min_pixel_accuracy}")
        require(0.0 <= self.max_pixel_accuracy_drop <= 1.0,
                f"max_pixel_accuracy_drop must be in [0, 1], got {self.max_pixel_accuracy_drop}")
        require(self.data_source in DATA_SOURCES,
                f"data_source must be one of {DATA_SOURCES}, got {self.data_source!r}")
        require(0.0 <= self.max_quarantined_fraction <= 1.0,
                f"max_quarantined_fraction must be in [0, 1], got "
                f"{self.max_quarantined_fraction}")
        require(self.batchnorm_momentum is None or 0.0 <= self.batchnorm_momentum < 1.0,
                f"batchnorm_momentum must be in [0, 1), got {self.batchnorm_momentum}")
        require(self.architecture in features.ARCHITECTURES,
                f"architecture must be one of {', '.join(features.ARCHITECTURES)}, got "
                f"{self.architecture!r}")
        require(self.report_max_examples >= 0 and self.report_samples >= 0,
                f"report_max_examples and report_samples must be 0 or more, got "
                f"{self.report_max_examples} and {self.report_samples}")
        features.parse_class_weights(self.class_weights)  # ValueError saying what is accepted
        require(self.gate_metric in features.GATE_METRICS,
                f"gate_metric must be one of {', '.join(features.GATE_METRICS)}, got "
                f"{self.gate_metric!r}")
        require(self.fine_tune_epochs >= 0,
                f"fine_tune_epochs must be 0 or more, got {self.fine_tune_epochs}")
        require(self.fine_tune_learning_rate is None or self.fine_tune_learning_rate > 0,
                f"fine_tune_learning_rate must be positive, got {self.fine_tune_learning_rate}")
        require(not (self.fine_tune_epochs and self.train_encoder is True),
                "fine_tune_epochs unfreezes an encoder frozen for the first epochs, but "
                "train_encoder is on (the encoder trains from the first epoch): drop "
                "--train-encoder, or --fine-tune-epochs")
        require(self.warm_start_epochs > 0,
                f"warm_start_epochs must be positive, got {self.warm_start_epochs}")
        require(self.span_pattern is None or (
            "{SPAN" in self.span_pattern and not os.path.isabs(self.span_pattern)),
                f"span_pattern must be a path relative to data_dir holding {{SPAN}}, e.g. "
                f"'span-{{SPAN}}', got {self.span_pattern!r}")
        if self.cloud is not None:
            self.cloud.validate(self)
        for name in ("mixed_precision", "xla"):
            value = getattr(self, name)
            require(value is None or isinstance(value, bool),
                    f"{name} must be True, False or None (auto: on iff a GPU is visible), "
                    f"got {value!r}")
        require(not self.xla or self.architecture == features.MOBILENET_V2_UNET,
                f"xla cannot be on for architecture {self.architecture!r} (XLA cannot compile "
                f"the gradient of its UpSampling2D); set xla to auto or off, or use "
                f"{features.MOBILENET_V2_UNET}")

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
        config = {"image_size": self.image_size}
        if features.parse_class_weights(self.class_weights) == features.AUTO_CLASS_WEIGHTS:
            config["class_weights"] = features.AUTO_CLASS_WEIGHTS
        return config

    def trainer_config(self) -> dict:
        """Trainer's custom_config (read by trainer/train.py TrainerSettings)."""
        return {
            "architecture": self.architecture,
            "image_size": self.image_size, "epochs": self.epochs, "batch_size": self.batch_size,
            "learning_rate": self.learning_rate, "encoder_weights": self.encoder_weights,
            "train_encoder": self.train_encoder, "batchnorm_momentum": self.batchnorm_momentum,
            "class_weights": self.class_weights, "seed": self.seed,
            # Only when on, so the Trainer's cache key stays as it was without warm start.
            **({"warm_start_epochs": self.warm_start_epochs} if self.warm_start else {}),
            "mixed_precision": self.mixed_precision, "xla": self.xla,
            "cache_examples": self.cache_examples,
            # Only when on, so the Trainer's cache key stays as it was without fine-tuning.
            **({"fine_tune_epochs": self.fine_tune_epochs,
                "fine_tune_learning_rate": self.fine_tune_learning_rate}
               if self.fine_tune_epochs else {}),
        }


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
