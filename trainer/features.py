"""Feature keys and class ids shared by every stage: ingest, Transform, Trainer, Evaluator.

Defined once here and imported everywhere else. This directory is the TFX user-module
directory (packaged as a wheel for Transform and Trainer), so this module has no dependencies.
"""

# Raw features of an ingested tf.Example (named as TFDS `oxford_iiit_pet` names them).
IMAGE_KEY = "image"  # encoded JPEG (or PNG) bytes, any size
MASK_KEY = "segmentation_mask"  # encoded PNG trimap: 1 pet, 2 background, 3 border
FILE_NAME_KEY = "file_name"  # e.g. b"Abyssinian_1.jpg"
LABEL_KEY = "label"  # breed, 0..36 (the list files' class id minus 1)
SPECIES_KEY = "species"  # 0 cat, 1 dog (the list files' species minus 1)
RAW_FEATURE_KEYS = (IMAGE_KEY, MASK_KEY, FILE_NAME_KEY, LABEL_KEY, SPECIES_KEY)

NUM_BREEDS = 37
SPECIES_NAMES = ("cat", "dog")


def transformed_name(key: str) -> str:
    """Name of a feature after tf.Transform."""
    return key + "_xf"


# Transformed features: what the model trains on.
IMAGE_XF = transformed_name(IMAGE_KEY)  # float32 [H, W, 3] in [0, 1]
MASK_XF = transformed_name(MASK_KEY)  # int64 [H, W, 1] in {0, 1, 2}

# Segmentation classes: the trimap value minus one.
CLASS_NAMES = ("pet", "background", "border")
NUM_CLASSES = len(CLASS_NAMES)
TRIMAP_VALUES = (1, 2, 3)  # what the annotation PNGs hold, in CLASS_NAMES order

# Names of the exported SavedModel's signatures.
SERVING_SIGNATURE = "serving_default"  # encoded image bytes -> class ids, probabilities
EXAMPLES_SIGNATURE = "serving_examples"  # serialized raw tf.Example -> logits (for TFMA)
TRANSFORM_SIGNATURE = "transform_features"  # serialized raw tf.Example -> transformed features
SERVING_INPUT_KEY = "image_bytes"
LOGITS_KEY = "logits"
CLASS_IDS_KEY = "class_ids"
PROBABILITIES_KEY = "probabilities"
