"""Sample predictions for the report: the candidate model on the eval examples.

Each eval example (up to a configurable cap) is scored with the SavedModel's own signatures:
`transform_features` gives the image and true mask exactly as the Evaluator saw them (same
Transform graph, same size), `serving_default` gives the predicted mask from the encoded image,
as a serving client would get it. The best and worst examples by pixel accuracy go in the
report as input, true mask, predicted mask and overlay (the TF tutorial's `display()`).
"""

import os
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from report import images
from storage import files as storage
from trainer import features

BATCH_SIZE = 16


def eval_files(examples_uri: str, split: str = "eval") -> List[str]:
    """The gzipped TFRecord files of one split of an Examples artifact."""
    files = storage.glob(os.path.join(examples_uri, f"Split-{split}", "*"))
    if not files:
        raise FileNotFoundError(f"no examples of split '{split}' under {examples_uri}")
    return files


def count_records(files: Sequence[str]) -> int:
    """Records in gzipped TFRecord files (about 0.5 s for 2,000 examples, 2 s for 7,349)."""
    import tensorflow as tf

    if not files:
        return 0
    dataset = tf.data.TFRecordDataset(list(files), "GZIP", num_parallel_reads=len(files))
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def score_examples(model_dir: str, examples_uri: str, max_examples: int,
                   split: str = "eval") -> Dict[str, Any]:
    """Scores up to `max_examples` eval examples; returns the per-example arrays and counts.

    {"scored": n, "available": total, "examples": [{"name", "pixel_accuracy", "image",
    "truth", "predicted"}]} with image uint8 [S, S, 3] and masks int [S, S]. Each batch runs
    as one graph (both signatures and the unpacking of the pixels): called eagerly, the
    unpacking's `tf.map_fn` alone took 3.8 of the report's 12.6 s at 256 examples (py-spy,
    BENCHMARKS.md "Where the fixed cost went").
    """
    import tensorflow as tf

    from trainer import preprocessing

    files = eval_files(examples_uri, split)
    model = tf.saved_model.load(model_dir)
    transform = model.signatures[features.TRANSFORM_SIGNATURE]
    serve = model.signatures[features.SERVING_SIGNATURE]
    spec = {features.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
            features.FILE_NAME_KEY: tf.io.FixedLenFeature([], tf.string, default_value=b"")}

    @tf.function(autograph=False,
                 input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def score(batch):  # serialized raw examples -> names, pixels, true and predicted classes
        raw = tf.io.parse_example(batch, spec)
        transformed = transform(examples=batch)
        predicted = serve(**{features.SERVING_INPUT_KEY: raw[features.IMAGE_KEY]})
        return (raw[features.FILE_NAME_KEY],
                preprocessing.unpack_pixels(transformed[features.IMAGE_XF]),
                transformed[features.MASK_XF][..., 0], predicted[features.CLASS_IDS_KEY])

    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    scored: List[Dict[str, Any]] = []
    for batch in dataset.take(max_examples).batch(BATCH_SIZE).prefetch(1):
        names, pictures, truth, class_ids = (value.numpy() for value in score(batch))
        for index, name in enumerate(names):
            scored.append({
                "name": name.decode("utf-8", "replace"),
                "pixel_accuracy": float(np.mean(class_ids[index] == truth[index])),
                "image": pictures[index], "truth": truth[index], "predicted": class_ids[index]})
    available = count_records(files) if len(scored) >= max_examples else len(scored)
    return {"scored": len(scored), "available": available, "examples": scored}


def sample_grid(scored: Dict[str, Any], per_group: int) -> Dict[str, Any]:
    """The best and worst `per_group` examples as embeddable images (data URIs).

    The two groups do not share examples: with few examples the worst group gets fewer.
    """
    ranked = sorted(scored["examples"], key=lambda e: (-e["pixel_accuracy"], e["name"]))
    best = ranked[:per_group]
    worst = list(reversed(ranked[per_group:]))[:per_group]

    def rendered(example: Dict[str, Any]) -> Dict[str, Any]:
        return {
            "name": example["name"], "pixel_accuracy": example["pixel_accuracy"],
            "pet_share_true": float(np.mean(example["truth"] == 0)),
            "pet_share_predicted": float(np.mean(example["predicted"] == 0)),
            "images": {
                "input": images.image_uri(example["image"], "JPEG"),
                "truth": images.image_uri(images.colour_mask(example["truth"])),
                "predicted": images.image_uri(images.colour_mask(example["predicted"])),
                "overlay": images.image_uri(
                    images.overlay(example["image"], example["predicted"]), "JPEG"),
            }}

    accuracies = [e["pixel_accuracy"] for e in scored["examples"]]
    return {"scored": scored["scored"], "available": scored["available"],
            "mean_pixel_accuracy": float(np.mean(accuracies)) if accuracies else None,
            "best": [rendered(e) for e in best], "worst": [rendered(e) for e in worst]}


def collect(model_dir: Optional[str], examples_uri: Optional[str], max_examples: int,
            per_group: int) -> Dict[str, Any]:
    """The report's sample section, or {"error": why} when it cannot be made."""
    if not model_dir or not storage.isdir(model_dir):
        return {"error": f"no candidate SavedModel found (looked for {model_dir})"}
    if not examples_uri:
        return {"error": "the eval examples are not known"}
    if max_examples <= 0 or per_group <= 0:
        return {"error": "sample predictions are turned off (max examples or samples is 0)"}
    import tensorflow as tf

    try:
        return sample_grid(score_examples(model_dir, examples_uri, max_examples), per_group)
    except (OSError, ValueError, KeyError, tf.errors.OpError) as error:
        return {"error": f"could not score the eval examples: {str(error).splitlines()[0]}"}
