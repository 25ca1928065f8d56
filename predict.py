"""Predicts pet masks for your images with a pushed model, as a serving client would.

    python predict.py photos/ cat.jpg --output predictions/
    python predict.py --model workdir/serving/pet_unet/3 dog.png --output out/

Uses only the SavedModel's `serving_default` signature (encoded image bytes in, per-pixel
class ids out). For each image it writes `<name>.mask.png` (a palette PNG whose pixel values
are the class ids 0 pet, 1 background, 2 border, resized to the image's own size) and
`<name>.overlay.jpg` (the predicted pet and border tinted over the image), then a summary of
every image (pet pixel share) as summary.csv and summary.json. An input that cannot be used
(not an image, unreadable) is reported and skipped; the others go on; the exit status is 1
when any failed. TensorFlow's own output goes to <output>/logs/predict-<time>.log.
"""

import argparse
import csv
import io
import json
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

from cli import exits
from storage import files
from pipeline.config import PipelineConfig, WorkDir  # light: no TensorFlow

DEFAULT_SERVING_DIR = WorkDir().serving_dir  # where local_runner.py pushes by default
DEFAULT_MODEL_NAME = PipelineConfig.__dataclass_fields__["model_name"].default
SUMMARY_FIELDS = ("input", "status", "pet_share", "background_share", "border_share",
                  "width", "height", "mask", "overlay", "error")


class NoModelError(ValueError):
    """No pushed model where one was expected."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python predict.py",
        description="Segment pets in image files with a pushed model's serving_default "
                    "signature; write mask PNGs, overlays and a per-image summary.",
        epilog=exits.epilog(ok="every image segmented",
                            failed="an image could not be used (the others are written)",
                            bad_input="bad flags, no model, or no input files (nothing ran)"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR",
                        help="image files (JPEG, PNG, GIF, BMP) or directories of them "
                             "(every file in them, recursively, is tried)")
    parser.add_argument("--output", required=True, help="directory for the masks, overlays "
                        "and summary.csv / summary.json")
    parser.add_argument("--model", help="a pushed version directory (holding "
                        "saved_model.pb) or a model directory (its highest version is used); "
                        "default: the latest version in <serving-dir>/<model-name>/")
    parser.add_argument("--serving-dir", default=DEFAULT_SERVING_DIR,
                        help="where local_runner.py pushes models")
    parser.add_argument("--model-name", default=DEFAULT_MODEL_NAME,
                        help="the model's directory under --serving-dir")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own lines on the console too (they always go "
                             "to <output>/logs/predict-<time>.log)")
    return parser


def resolve_model(model: Optional[str], serving_dir: str, model_name: str) -> str:
    """The SavedModel directory to use; NoModelError saying where it looked and what to do."""
    from serving.versions import existing_versions

    path = files.absolute(model or os.path.join(serving_dir, model_name))
    if files.isfile(os.path.join(path, "saved_model.pb")):
        return path
    versions = existing_versions(path)
    if versions:
        return os.path.join(path, str(versions[-1]))
    if model:
        raise NoModelError(f"{path} is neither a SavedModel directory nor a model directory "
                           "with numbered versions")
    raise NoModelError(f"no model has been pushed to {path} yet: run the pipeline "
                       "(scripts/demo.sh or local_runner.py) until a model is blessed and "
                       "pushed, or pass --model / --serving-dir")


def list_inputs(inputs: List[str]) -> List[str]:
    """Files named, and every file under directories named (hidden ones left out), in a
    stable order; local paths or gs:// URIs."""
    found = []
    for given in inputs:
        if files.isdir(given):
            found.extend(os.path.join(given, name) for name in files.files_under(given)
                         if not os.path.basename(name).startswith("."))
        else:
            found.append(given)  # a missing or unreadable file is reported when it is read
    return found


def read_image(path: str) -> Tuple[bytes, Any]:
    """The file's bytes and its decoded RGB image; ValueError saying why it cannot be used."""
    from PIL import Image, UnidentifiedImageError

    try:
        data = files.read_bytes(path)
    except OSError as error:
        raise ValueError(f"cannot read the file: {error.strerror or error}") from None
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except UnidentifiedImageError:
        raise ValueError("not an image (JPEG, PNG, GIF or BMP expected)") from None
    except (OSError, SyntaxError) as error:  # PIL's word for damaged data
        raise ValueError(f"a damaged or truncated image ({error})") from None
    return data, image.convert("RGB")


def output_stem(path: str, taken: Dict[str, int]) -> str:
    """The file name without extension, made unique among this run's outputs."""
    stem = os.path.splitext(os.path.basename(path))[0] or "image"
    count = taken.get(stem, 0)
    taken[stem] = count + 1
    return stem if count == 0 else f"{stem}_{count + 1}"


def predict_one(serve, path: str, output_dir: str, stem: str) -> Dict[str, Any]:
    """One image through serving_default; writes its mask and overlay; returns its summary."""
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    from report import images
    from trainer import features

    data, image = read_image(path)
    try:
        outputs = serve(**{features.SERVING_INPUT_KEY: tf.constant([data])})
    except tf.errors.OpError as error:
        raise ValueError(f"the model could not decode it: {error.message.splitlines()[0]}"
                         ) from None
    class_ids = outputs[features.CLASS_IDS_KEY].numpy()[0]
    shares = np.bincount(class_ids.reshape(-1), minlength=features.NUM_CLASSES) / class_ids.size
    full_size = np.asarray(Image.fromarray(class_ids.astype(np.uint8)).resize(
        image.size, Image.NEAREST))
    mask = Image.fromarray(full_size, mode="P")
    mask.putpalette([value for colour in images.CLASS_COLOURS for value in colour])
    mask_path = os.path.join(output_dir, f"{stem}.mask.png")
    mask.save(mask_path)
    overlay_path = os.path.join(output_dir, f"{stem}.overlay.jpg")
    with open(overlay_path, "wb") as handle:
        handle.write(images.encode(images.overlay(np.asarray(image), full_size), "JPEG"))
    return {"status": "ok", "pet_share": round(float(shares[0]), 4),
            "background_share": round(float(shares[1]), 4),
            "border_share": round(float(shares[2]), 4),
            "width": image.size[0], "height": image.size[1],
            "mask": mask_path, "overlay": overlay_path}


def write_summary(rows: List[Dict[str, Any]], output_dir: str) -> None:
    with open(os.path.join(output_dir, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(rows, handle, indent=1)
    with open(os.path.join(output_dir, "summary.csv"), "w", encoding="utf-8",
              newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUMMARY_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model_dir = resolve_model(args.model, args.serving_dir, args.model_name)
        paths = list_inputs(args.inputs)
        if not paths:
            raise ValueError(f"no files in {', '.join(args.inputs)}")
        output_dir = os.path.abspath(args.output)
        os.makedirs(output_dir, exist_ok=True)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return exits.BAD_INPUT
    from cli import console

    with console.Session(console.new_log_path(output_dir, "predict"), verbose=args.verbose,
                         failure="predicting stopped"):
        return predict_all(model_dir, paths, output_dir)
    return exits.FAILED  # the session showed the error and the log's path


def predict_all(model_dir: str, paths: List[str], output_dir: str) -> int:
    """Segments every file with the model; FAILED when any could not be used, else OK."""
    import tensorflow as tf

    from trainer import features

    print(f"Model: {model_dir}", flush=True)
    serve = tf.saved_model.load(model_dir).signatures[features.SERVING_SIGNATURE]
    rows, taken = [], {}
    for path in paths:
        row = {field: "" for field in SUMMARY_FIELDS}
        row["input"] = path
        try:
            row.update(predict_one(serve, path, output_dir, output_stem(path, taken)))
            print(f"  ok     {path}: pet {row['pet_share']:.1%}, background "
                  f"{row['background_share']:.1%}, border {row['border_share']:.1%} "
                  f"-> {row['mask']}", flush=True)
        except ValueError as error:
            row.update(status="error", error=str(error))
            print(f"  FAILED {path}: {error}", file=sys.stderr, flush=True)
        rows.append(row)
    write_summary(rows, output_dir)
    failed = sum(row["status"] != "ok" for row in rows)
    print(f"{len(rows) - failed} of {len(rows)} images segmented; summary: "
          f"{os.path.join(output_dir, 'summary.csv')} (and summary.json)")
    return exits.FAILED if failed else exits.OK


if __name__ == "__main__":
    sys.exit(main())
