"""Feature keys and class ids shared by every stage: ingest, Transform, Trainer, Evaluator.

Defined once here and imported everywhere else; no dependencies, so anything may import it.
"""

# Raw features of an ingested tf.Example (named as TFDS `oxford_iiit_pet` names them).
IMAGE_KEY = "image"  # encoded JPEG (or PNG) bytes, any size
MASK_KEY = "segmentation_mask"  # encoded PNG trimap: 1 pet, 2 background, 3 border
FILE_NAME_KEY = "file_name"  # e.g. b"Abyssinian_1.jpg"
LABEL_KEY = "label"  # breed, 0..36 (the list files' class id minus 1)
SPECIES_KEY = "species"  # 0 cat, 1 dog (the list files' species minus 1)
# The same two labels as names, so TFMA's slices and every view read "Abyssinian" and "cat",
# not 0 and 0 (LABEL_KEY and SPECIES_KEY keep their TFDS types: models trained before parse
# them as integers).
BREED_KEY = "breed"  # e.g. b"Abyssinian"
SPECIES_NAME_KEY = "species_name"  # b"cat" or b"dog"
RAW_FEATURE_KEYS = (IMAGE_KEY, MASK_KEY, FILE_NAME_KEY, LABEL_KEY, SPECIES_KEY, BREED_KEY,
                    SPECIES_NAME_KEY)

NUM_BREEDS = 37
SPECIES_NAMES = ("cat", "dog")


def transformed_name(key: str) -> str:
    """Name of a feature after tf.Transform."""
    return key + "_xf"


# Transformed features: what the model trains on.
# uint8 [H, W, 3] serialized (tf.io.serialize_tensor), one string an example;
# preprocessing.model_images turns a batch of them into float32 [B, H, W, 3] in [0, 1].
IMAGE_XF = transformed_name(IMAGE_KEY)
MASK_XF = transformed_name(MASK_KEY)  # int64 [H, W, 1] in {0, 1, 2}

# Segmentation classes: the trimap value minus one.
CLASS_NAMES = ("pet", "background", "border")
NUM_CLASSES = len(CLASS_NAMES)
# How masks are drawn (the report, predict.py's palette PNGs, TensorBoard's sample images): one
# RGB colour per class, in CLASS_NAMES order.
CLASS_COLOURS = ((242, 142, 43), (40, 58, 92), (237, 237, 237))
TRIMAP_VALUES = (1, 2, 3)  # what the annotation PNGs hold, in CLASS_NAMES order

# Names of the TFMA pixel metrics (trainer/metrics.py computes them; reports read them).
# At the model's input size: the trimap resized to S x S (nearest neighbour, as Transform does)
# against the argmax of the S x S logits.
CONFUSION_MATRIX_NAME = "pixel_confusion_matrix"
PIXEL_ACCURACY_NAME = "pixel_accuracy"
MEAN_IOU_NAME = "mean_iou"
# At each image's own size, as 3-class results at native resolution are reported: the logits
# resized bilinearly to the trimap's height and width, then argmax, against the original trimap.
NATIVE_PREFIX = "native_"
NATIVE_CONFUSION_MATRIX_NAME = NATIVE_PREFIX + CONFUSION_MATRIX_NAME
NATIVE_PIXEL_ACCURACY_NAME = NATIVE_PREFIX + PIXEL_ACCURACY_NAME
NATIVE_MEAN_IOU_NAME = NATIVE_PREFIX + MEAN_IOU_NAME
# Two classes, at each image's own size: foreground (pet and border merged) against background,
# the figure published binary results quote (segmentation_models.pytorch's pets example).
FOREGROUND_CLASSES = ("pet", "border")
FOREGROUND_IOU_NAME = "foreground_iou"
CLASS_METRIC_KINDS = ("pixel_accuracy", "iou")  # per class: recall of the class, and IoU


def class_metric_name(class_name: str, kind: str, native: bool = False) -> str:
    """'pet_iou', or 'native_pet_iou' at each image's own size."""
    return (NATIVE_PREFIX if native else "") + f"{class_name}_{kind}"


def confusion_cell_name(true_class: str, predicted_class: str, native: bool = False) -> str:
    """A cell of the pixel confusion matrix as its own scalar metric (TFMA's readers take
    scalars): 'pixel_confusion_pet_as_background', pixels of true class pet predicted as
    background; 'native_...' at each image's own size."""
    return (NATIVE_PREFIX if native else "") + f"pixel_confusion_{true_class}_as_{predicted_class}"


def scalar_metric_names(native: bool = False):
    """The scalar pixel metrics at one resolution: overall accuracy, mean IoU, per class."""
    prefix = NATIVE_PREFIX if native else ""
    return (prefix + PIXEL_ACCURACY_NAME, prefix + MEAN_IOU_NAME) + tuple(
        class_metric_name(name, kind, native) for name in CLASS_NAMES
        for kind in CLASS_METRIC_KINDS)


# Any scalar pixel metric can gate the push (all are higher-is-better, in [0, 1]).
GATE_METRICS = scalar_metric_names() + scalar_metric_names(native=True) + (FOREGROUND_IOU_NAME,)
DEFAULT_GATE_METRIC = NATIVE_PIXEL_ACCURACY_NAME


def is_native_metric(name: str) -> bool:
    """Whether a metric is computed at each image's own size (else at the model's input)."""
    return name.startswith(NATIVE_PREFIX) or name == FOREGROUND_IOU_NAME

# Names of the exported SavedModel's signatures.
SERVING_SIGNATURE = "serving_default"  # encoded image bytes -> class ids, probabilities
EXAMPLES_SIGNATURE = "serving_examples"  # serialized raw tf.Example -> logits (for TFMA)
TRANSFORM_SIGNATURE = "transform_features"  # serialized raw tf.Example -> transformed features
SERVING_INPUT_KEY = "image_bytes"
LOGITS_KEY = "logits"
CLASS_IDS_KEY = "class_ids"
PROBABILITIES_KEY = "probabilities"

# Model architectures (trainer/models.py builds them), named as the Keras models are.
MOBILENET_V2_UNET = "unet_mobilenet_v2"  # the TF tutorial's U-Net, MobileNetV2 encoder
XCEPTION_UNET = "unet_xception"  # the Keras example's U-Net "Xception-style", from scratch
ARCHITECTURES = (MOBILENET_V2_UNET, XCEPTION_UNET)

# Class-weighted loss: per-pixel sample weights looked up from one weight per class.
AUTO_CLASS_WEIGHTS = "auto"  # inverse pixel frequency of the training masks (tf.Transform)
CLASS_WEIGHTS_XF = "class_weights_xf"  # float32 [NUM_CLASSES] in every example, with "auto"

# Written by the Trainer beside saved_model.pb: architecture, parameter counts, class weights.
MODEL_INFO_FILE = "model_info.json"
# Written by the Trainer into its model_run directory: Keras' History, one value per epoch for
# each of loss, val_loss and the compiled metrics (read by the evaluation report's curves).
TRAINING_HISTORY_FILE = "training_history.json"


def parse_class_weights(spec):
    """None, "auto", or "w_pet,w_background,w_border" -> None, "auto" or a tuple of floats.

    Raises ValueError saying what is accepted.
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "none")):
        return None
    if isinstance(spec, str) and spec.strip().lower() == AUTO_CLASS_WEIGHTS:
        return AUTO_CLASS_WEIGHTS
    expected = (f"class_weights must be '{AUTO_CLASS_WEIGHTS}' or {NUM_CLASSES} non-negative "
                f"numbers, one per class ({','.join(CLASS_NAMES)}), not all zero, e.g. "
                f"'1,1,2'; got {spec!r}")
    try:
        parts = spec.split(",") if isinstance(spec, str) else list(spec)
        weights = tuple(float(part) for part in parts)
    except (TypeError, ValueError):
        raise ValueError(expected) from None
    if (len(weights) != NUM_CLASSES or any(not w >= 0 or w == float("inf") for w in weights)
            or not any(weights)):
        raise ValueError(expected)
    return weights
