"""The Trainer's settings: one dataclass with its defaults, its checks and its custom_config form.

`PipelineConfig.trainer` holds a `TrainerSettings`; `create_pipeline` puts `to_custom_config()`
into the Trainer's `custom_config` and `run_fn` reads it back with `from_custom_config`. The
model builders take every value explicitly, so the defaults here are the only ones. This module
imports neither TensorFlow nor TFX: the pipeline's definition and the Trainer both import it.

`custom_config` is part of the Trainer's cache key, so a setting that is off must leave it as
it was: fields marked `when_set` enter it only at a value other than their default, and fields
marked `with_field(name)` only while that other field is on.
"""

import dataclasses
from typing import Any, Dict, Optional

from trainer import features
from trainer.code_version import CODE_VERSION_KEY

# TFX's Vertex AI Trainer passes its own keys (ai_platform_*) through to run_fn.
VERTEX_KEY_PREFIX = "ai_platform_"
# XLA has no kernel for ResizeNearestNeighborGrad (the gradient of UpSampling2D, which the
# Xception-style U-Net uses), so only this architecture's training step compiles.
XLA_ARCHITECTURES = (features.MOBILENET_V2_UNET,)

_KEY = "custom_config"  # a field's metadata entry saying when it enters custom_config


def when_set(default: Any) -> Any:
    """A field that enters custom_config only at a value other than `default`."""
    return dataclasses.field(default=default, metadata={_KEY: ("when_set", None)})


def with_field(default: Any, name: str) -> Any:
    """A field that enters custom_config only while field `name` is on (truthy)."""
    return dataclasses.field(default=default, metadata={_KEY: ("with", name)})


@dataclasses.dataclass(frozen=True)
class TrainerSettings:
    """What to train and how; validated when built (ValueError naming the value and the fix)."""

    architecture: str = features.MOBILENET_V2_UNET  # one of features.ARCHITECTURES
    image_size: int = 128  # square side after Transform (Transform reads it too)
    epochs: int = 10
    batch_size: int = 16  # per replica
    learning_rate: float = 1e-3  # Adam's
    encoder_weights: str = "imagenet"  # "imagenet", a weights file path, or "none"
    train_encoder: Optional[bool] = None  # None: trained when no pretrained weights loaded
    # Every BatchNormalization layer's; None keeps Keras' (0.999 in MobileNetV2, 0.99 others),
    # whose moving statistics lag so far behind a short run from scratch that the model
    # predicts one class in inference mode.
    batchnorm_momentum: Optional[float] = 0.9
    # Class-weighted loss: None (off), "auto" (inverse pixel frequency of the training masks,
    # computed by a tf.Transform analyzer) or one weight per class, "pet,background,border".
    class_weights: Optional[str] = None
    seed: int = 0
    # Warm start: with a latest blessed model (fn_args.base_model), train warm_start_epochs
    # from its weights instead of `epochs` from scratch; a first run trains from scratch.
    warm_start: bool = when_set(False)
    warm_start_epochs: int = with_field(2, "warm_start")
    # Fine-tuning, as the TF tutorial suggests: with pretrained encoder weights loaded (and
    # frozen for the first `epochs`), fine_tune_epochs more with the encoder unfrozen, its
    # BatchNorm layers in inference mode, at fine_tune_learning_rate (None: a tenth of
    # learning_rate). Without pretrained weights the Trainer says it does nothing.
    fine_tune_epochs: int = when_set(0)
    fine_tune_learning_rate: Optional[float] = with_field(None, "fine_tune_epochs")
    # GPU speed-ups: None ("auto") turns each on iff the Trainer sees a GPU.
    mixed_precision: Optional[bool] = None  # float16 compute; logits and loss stay float32
    xla: Optional[bool] = None  # XLA-compiled train/eval steps (falls back when it fails)
    # Keep the decoded examples after the first epoch (8-bit pixels and class ids, 64 KB an
    # example at 128 px): later epochs skip gunzip and parsing. In memory while they fit a share
    # of the memory available, else on local disk (trainer/example_cache.py MEMORY_SHARE).
    cache_examples: bool = True
    # Validate on the eval split after every validation_freq-th epoch (and the last one);
    # 1 (the default) after every epoch, as the tutorial does.
    validation_freq: int = when_set(1)
    # ... on one eval example in every validation_subsplits (a fifth by default, as the
    # tutorial's VAL_SUBSPLITS = 5 validates a fifth of its test split): a progress signal
    # only, nothing selects on it; the Evaluator always scores the whole eval split. 1: the
    # whole split after each validated epoch.
    validation_subsplits: int = when_set(5)
    shuffle_buffer: int = when_set(256)  # examples shuffled at a time

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raises ValueError naming the first bad value and what to do about it."""
        def require(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(message)

        require(self.architecture in features.ARCHITECTURES,
                f"architecture must be one of {', '.join(features.ARCHITECTURES)}, got "
                f"{self.architecture!r}")
        require(isinstance(self.image_size, int) and self.image_size >= 32
                and self.image_size % 32 == 0,
                f"image_size must be a positive multiple of 32 (the encoder halves it five "
                f"times), got {self.image_size}")
        for name in ("epochs", "batch_size", "learning_rate", "warm_start_epochs",
                     "validation_freq", "validation_subsplits", "shuffle_buffer"):
            require(getattr(self, name) > 0,
                    f"{name} must be positive, got {getattr(self, name)}")
        require(self.batchnorm_momentum is None or 0.0 <= self.batchnorm_momentum < 1.0,
                f"batchnorm_momentum must be in [0, 1), got {self.batchnorm_momentum}")
        features.parse_class_weights(self.class_weights)  # ValueError saying what is accepted
        require(self.fine_tune_epochs >= 0,
                f"fine_tune_epochs must be 0 or more, got {self.fine_tune_epochs}")
        require(self.fine_tune_learning_rate is None or self.fine_tune_learning_rate > 0,
                f"fine_tune_learning_rate must be positive, got {self.fine_tune_learning_rate}")
        require(not (self.fine_tune_epochs and self.train_encoder is True),
                "fine_tune_epochs unfreezes an encoder frozen for the first epochs, but "
                "train_encoder is on (the encoder trains from the first epoch): drop "
                "--train-encoder, or --fine-tune-epochs")
        for name in ("mixed_precision", "xla"):
            value = getattr(self, name)
            require(value is None or isinstance(value, bool),
                    f"{name} must be True, False or None (auto: on iff a GPU is visible), "
                    f"got {value!r}")
        require(not self.xla or self.architecture in XLA_ARCHITECTURES,
                f"xla cannot be on for architecture {self.architecture!r}: XLA has no kernel "
                f"for the gradient of its UpSampling2D (ResizeNearestNeighborGrad); set xla "
                f"to auto or off, or use {', '.join(XLA_ARCHITECTURES)}")

    def xla_wanted(self, gpu_visible: bool) -> bool:
        """Whether to XLA-compile: as set, or ("auto") iff a GPU is visible and the
        architecture is one XLA can train."""
        if self.xla is None:
            return gpu_visible and self.architecture in XLA_ARCHITECTURES
        return self.xla

    def to_custom_config(self) -> Dict[str, Any]:
        """The Trainer's custom_config: JSON-able values, keyed by field name."""
        config = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            rule, other = field.metadata.get(_KEY, ("always", None))
            if rule == "when_set" and value == field.default:
                continue
            if rule == "with" and not getattr(self, other):
                continue
            config[field.name] = value
        return config

    @classmethod
    def from_custom_config(cls, custom_config: Optional[Dict[str, Any]]) -> "TrainerSettings":
        """The settings `to_custom_config` wrote (absent keys take their defaults); refuses a
        key it does not know, except the Vertex AI Trainer's own and the code's hash."""
        known = {field.name for field in dataclasses.fields(cls)}
        given = {key: value for key, value in dict(custom_config or {}).items()
                 if not key.startswith(VERTEX_KEY_PREFIX) and key != CODE_VERSION_KEY}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(f"unknown Trainer settings {unknown}; known: {sorted(known)}")
        return cls(**given)
