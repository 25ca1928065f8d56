"""The flags both runners share: what to train and what blesses it.

local_runner.py and kubeflow_v2_runner.py take the same training and gate settings, so local
and cloud runs differ only in where things run, never in what is trained.
"""

import argparse
import dataclasses
from typing import Any, Dict

from components.data_checks import STOP, WARN, DataCheckSettings
from pipeline.config import PipelineConfig
from trainer import features  # names only: no TensorFlow import here
from trainer.settings import TrainerSettings

# Every TrainerSettings field has a flag (argparse dest == field name) except these.
TRAINER_FIELDS_WITHOUT_FLAGS = ("batchnorm_momentum", "shuffle_buffer")
# PipelineConfig fields set by the "evaluation gate" flags (argparse dest == field name).
GATE_FIELDS = ("gate_metric", "min_pixel_accuracy", "max_pixel_accuracy_drop")
ON_OFF_AUTO = {"auto": None, "on": True, "off": False}  # None: on iff the Trainer sees a GPU


_DEFAULTS = {**PipelineConfig.__dataclass_fields__, **TrainerSettings.__dataclass_fields__}


def add_training_flags(parser: argparse.ArgumentParser) -> None:
    """Adds the "training" and "evaluation gate" groups, defaults from TrainerSettings and
    PipelineConfig."""
    model = parser.add_argument_group("training")
    _add_model_flags(model)
    _add_schedule_flags(model)
    _add_gate_flags(parser.add_argument_group(
        "evaluation gate (on the whole eval split and on each species)"))
    _add_data_check_flags(parser.add_argument_group(
        "data checks (measured image features: train/eval skew, drift between spans)"))


def _add_model_flags(model) -> None:
    """What is trained: the architecture, its loss, sizes and the encoder's weights."""
    defaults = _DEFAULTS
    model.add_argument("--architecture", choices=features.ARCHITECTURES,
                       default=defaults["architecture"].default,
                       help=f"{features.MOBILENET_V2_UNET}: the TF tutorial's U-Net, a "
                            f"MobileNetV2 encoder that wants ImageNet weights; "
                            f"{features.XCEPTION_UNET}: the Keras example's U-Net, all "
                            f"trained from scratch")
    model.add_argument("--class-weights", default=defaults["class_weights"].default,
                       metavar="auto|PET,BACKGROUND,BORDER",
                       help="weigh each pixel's loss by its class: 'auto' (inverse pixel "
                            "frequency of the training masks, computed by Transform) or one "
                            "weight per class, e.g. 1,1,2; unset: unweighted")
    model.add_argument("--epochs", type=int, default=defaults["epochs"].default,
                       help="training epochs, positive")
    model.add_argument("--batch-size", type=int, default=defaults["batch_size"].default,
                       help="training batch size, positive")
    model.add_argument("--image-size", type=int, default=defaults["image_size"].default,
                       help="square side after Transform, a multiple of 32")
    model.add_argument("--learning-rate", type=float,
                       default=defaults["learning_rate"].default, help="Adam's, positive")
    model.add_argument("--encoder-weights", default=defaults["encoder_weights"].default,
                       help="'imagenet' (Keras download or ~/.keras/models cache), a weights "
                            "file path, or 'none'; a failed load is reported and the encoder "
                            "starts random")
    frozen = model.add_mutually_exclusive_group()
    frozen.add_argument("--train-encoder", dest="train_encoder", action="store_true",
                        default=None, help="train the encoder (default: only when no "
                                           "pretrained weights loaded)")
    frozen.add_argument("--freeze-encoder", dest="train_encoder", action="store_false",
                        help="keep the encoder frozen")


def _add_schedule_flags(model) -> None:
    """How it trains: fine-tuning, seed, warm start, GPU speed-ups, caching, validation."""
    defaults = _DEFAULTS
    model.add_argument("--fine-tune-epochs", type=int,
                       default=defaults["fine_tune_epochs"].default, metavar="N",
                       help="with pretrained encoder weights: N more epochs after the frozen "
                            "ones, the encoder unfrozen (its BatchNorm layers stay in inference "
                            "mode); without pretrained weights the Trainer says it does nothing")
    model.add_argument("--fine-tune-learning-rate", type=float,
                       default=defaults["fine_tune_learning_rate"].default,
                       help="Adam's while fine-tuning (default: a tenth of --learning-rate)")
    model.add_argument("--seed", type=int, default=defaults["seed"].default,
                       help="random seed for initialization and shuffling")
    model.add_argument("--warm-start", action="store_true",
                       help="start from the latest blessed model's weights (when there is one) "
                            "and train --warm-start-epochs")
    model.add_argument("--warm-start-epochs", type=int,
                       default=defaults["warm_start_epochs"].default,
                       help="epochs when warm-starting (--warm-start), positive")
    for flag, what in (("--mixed-precision", "float16 compute, float32 logits and loss"),
                       ("--xla", "XLA-compiled training and evaluation steps")):
        model.add_argument(flag, choices=sorted(ON_OFF_AUTO), default="auto",
                           help=f"{what}; auto: on iff the Trainer sees a GPU")
    model.add_argument("--no-example-cache", dest="cache_examples", action="store_false",
                       help="do not keep the decoded training/eval examples after the first "
                            "epoch (by default they stay in memory, or on local disk when they "
                            "need more than a share of the memory available: "
                            "trainer/example_cache.py MEMORY_SHARE)")
    model.add_argument("--validation-freq", type=int,
                       default=defaults["validation_freq"].default, metavar="N",
                       help="validate on the eval split after every N-th epoch and the last "
                            "one (1: after every epoch)")
    model.add_argument("--validation-subsplits", type=int,
                       default=defaults["validation_subsplits"].default, metavar="N",
                       help="validate on one eval example in every N (the tutorial's "
                            "VAL_SUBSPLITS; 1: the whole eval split); the Evaluator always "
                            "scores the whole split")


def _add_gate_flags(gate) -> None:
    """What blesses a model: the gate metric and its two bounds."""
    defaults = _DEFAULTS
    gate.add_argument("--gate-metric", choices=features.GATE_METRICS,
                      default=defaults["gate_metric"].default, metavar="METRIC",
                      help=f"the metric the two bounds below apply to: "
                           f"{', '.join(features.GATE_METRICS)}. native_*: at each image's own "
                           f"size, as native-resolution results are; "
                           f"{features.FOREGROUND_IOU_NAME}: pet and border against "
                           f"background, at each image's own size; the others at the model's "
                           f"input size")
    gate.add_argument("--min-pixel-accuracy", type=float,
                      default=defaults["min_pixel_accuracy"].default,
                      help="bless only models whose gate metric (pixel accuracy by default) "
                           "is at least this")
    gate.add_argument("--max-pixel-accuracy-drop", type=float,
                      default=defaults["max_pixel_accuracy_drop"].default,
                      help="bless only models whose gate metric is at most this much below "
                           "the latest blessed model's")


def _add_data_check_flags(checks) -> None:
    """What the data gate calls a difference, and what it does about one."""
    defaults = DataCheckSettings()
    checks.add_argument("--on-drift", choices=(STOP, WARN), default=defaults.on_drift,
                        help="drift between this span and the serving model's data (with "
                             "--span-pattern): stop before Transform, or warn")
    checks.add_argument("--on-skew", choices=(STOP, WARN), default=defaults.on_skew,
                        help="skew between the eval and train splits: warn, or stop")
    checks.add_argument("--accept-drift", action="store_true",
                        help="this span's data is the new normal: train on it despite drift "
                             "(recorded in the run's metadata and report)")
    checks.add_argument("--drift-threshold", type=float, default=defaults.numeric_threshold,
                        help="Jensen-Shannon divergence (0..1) of a measured feature that is a "
                             "difference, once past the noise floor of the sample sizes")
    checks.add_argument("--category-drift-threshold", type=float,
                        default=defaults.categorical_threshold,
                        help="L-infinity distance (0..1) of the breed or species shares that "
                             "is a difference")


def data_check_settings(args: argparse.Namespace) -> DataCheckSettings:
    return DataCheckSettings(numeric_threshold=args.drift_threshold,
                             categorical_threshold=args.category_drift_threshold,
                             on_drift=args.on_drift, on_skew=args.on_skew,
                             accept_drift=args.accept_drift)


def training_settings(args: argparse.Namespace) -> Dict[str, Any]:
    """PipelineConfig keyword arguments from the flags of `add_training_flags`: `trainer`
    (a TrainerSettings) and the gate's fields."""
    trainer = {field.name: getattr(args, field.name)
               for field in dataclasses.fields(TrainerSettings)
               if field.name not in TRAINER_FIELDS_WITHOUT_FLAGS}
    for name in ("mixed_precision", "xla"):
        trainer[name] = ON_OFF_AUTO[trainer[name]]
    return {"trainer": TrainerSettings(**trainer), "data_checks": data_check_settings(args),
            **{name: getattr(args, name) for name in GATE_FIELDS}}
