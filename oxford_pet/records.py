"""One listed sample -> one checked raw tf.Example, repaired where it can be.

Feature names are `trainer.features`' (as TFDS `oxford_iiit_pet` names them). Images are kept
as the JPEG bytes on disk unless they need repair: PNG or other data under a `.jpg` name,
grayscale, CMYK or RGBA images, and the JPEGs known to raise "Corrupt JPEG data" are
re-encoded as RGB JPEG (the same repairs TFDS makes). A sample that cannot be repaired (image
or trimap missing or undecodable, trimap of another size or with values outside {1, 2, 3}, a
list line that contradicts the breed table) raises `BadSampleError` saying why.
"""

import io
import os
from typing import NamedTuple, Optional, Tuple

import numpy as np
import tensorflow as tf
from PIL import Image

from oxford_pet import breeds, layout
from trainer import features

# Samples TFDS re-encodes: PNG/RGBA data named .jpg, or "Corrupt JPEG data" in libjpeg.
KNOWN_BAD_JPEGS = frozenset([
    "beagle_116", "chihuahua_121", "Abyssinian_5", "Abyssinian_34", "Egyptian_Mau_14",
    "Egyptian_Mau_139", "Egyptian_Mau_145", "Egyptian_Mau_156", "Egyptian_Mau_167",
    "Egyptian_Mau_177", "Egyptian_Mau_186", "Egyptian_Mau_191",
])
JPEG_QUALITY = 95


class BadSampleError(ValueError):
    """A listed sample that cannot become a training example; the message says why."""


class Sample(NamedTuple):
    """What ingest produced for one sample: the example and, if repaired, what was done."""
    example: tf.train.Example
    repair: Optional[str]


def _bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int_feature(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _read(path: str, what: str) -> bytes:
    if not os.path.isfile(path):
        raise BadSampleError(f"{what} {path} is missing")
    with open(path, "rb") as handle:
        return handle.read()


def check_entry(entry: layout.ListEntry) -> None:
    """The list line agrees with the dataset's 37 breeds (name, class id, species)."""
    name = entry.name.rsplit("_", 1)[0]
    breed = breeds.BY_NAME.get(name)
    if breed is None:
        raise BadSampleError(f"{entry.name}: '{name}' is not one of the 37 breeds")
    if (entry.class_id, entry.species) != (breed.class_id, breed.species):
        raise BadSampleError(
            f"{entry.name}: list says class {entry.class_id}, species {entry.species}; "
            f"the breed {name} is class {breed.class_id}, species {breed.species}")


def clean_image(data: bytes, name: str, where: str) -> Tuple[bytes, Tuple[int, int],
                                                             Optional[str]]:
    """(RGB JPEG bytes, (width, height), what was repaired or None)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            kind, mode, size = image.format, image.mode, image.size
            problems = []
            if kind != "JPEG":
                problems.append(f"{kind} data")
            if mode != "RGB":
                problems.append(f"{mode} pixels")
            if name in KNOWN_BAD_JPEGS and not problems:
                problems.append("known corrupt JPEG")
            if not problems:
                return data, size, None
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY)
    except BadSampleError:
        raise
    except Exception as error:  # truncated, not an image, decoder errors
        raise BadSampleError(f"image {where} cannot be decoded: {error}") from None
    return buffer.getvalue(), size, f"{' and '.join(problems)} re-encoded as RGB JPEG"


def check_trimap(data: bytes, image_size: Tuple[int, int], where: str) -> None:
    """The trimap decodes, has the image's size, and holds only 1, 2 and 3."""
    try:
        with Image.open(io.BytesIO(data)) as trimap:
            values = np.asarray(trimap)
            size = trimap.size
    except Exception as error:
        raise BadSampleError(f"trimap {where} cannot be decoded: {error}") from None
    if size != image_size:
        raise BadSampleError(f"trimap {where} is {size[0]}x{size[1]} but its image is "
                             f"{image_size[0]}x{image_size[1]}")
    if values.ndim != 2:
        raise BadSampleError(f"trimap {where} has {values.shape[-1]} channels, expected 1")
    unexpected = sorted(set(np.unique(values).tolist()) - set(features.TRIMAP_VALUES))
    if unexpected:
        raise BadSampleError(f"trimap {where} holds values {unexpected[:5]} outside "
                             f"{list(features.TRIMAP_VALUES)}")


def build_sample(name: str, image_bytes: bytes, trimap_bytes: bytes, label: int, species: int,
                 image_where: str = "", trimap_where: str = "") -> Sample:
    """Checks and repairs one sample's bytes; label 0..36 and species 0..1 as in the examples."""
    image_bytes, size, repair = clean_image(image_bytes, name, image_where or name)
    check_trimap(trimap_bytes, size, trimap_where or name)
    return Sample(tf.train.Example(features=tf.train.Features(feature={
        features.IMAGE_KEY: _bytes_feature(image_bytes),
        features.MASK_KEY: _bytes_feature(trimap_bytes),
        features.FILE_NAME_KEY: _bytes_feature(f"{name}.jpg".encode()),
        features.LABEL_KEY: _int_feature(label),
        features.SPECIES_KEY: _int_feature(species),
    })), repair)


def make_sample(data_dir: str, entry: layout.ListEntry) -> Sample:
    """The checked (and if need be repaired) example for one list entry of a data directory."""
    check_entry(entry)
    image_file = layout.image_path(data_dir, entry.name)
    trimap_file = layout.trimap_path(data_dir, entry.name)
    return build_sample(entry.name, _read(image_file, "image"), _read(trimap_file, "trimap"),
                        entry.class_id - 1, entry.species - 1, image_file, trimap_file)
