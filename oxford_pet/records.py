"""One listed image and its trimap -> one raw tf.Example, after checking both files.

Feature names are `trainer.features`' (as TFDS `oxford_iiit_pet` names them). The bytes are
stored as they are on disk; decoding and resizing belong to tf.Transform.
"""

import io
import os

import numpy as np
import tensorflow as tf
from PIL import Image

from oxford_pet import breeds, layout
from trainer import features


class BadSampleError(ValueError):
    """A listed sample that cannot become a training example; the message says why."""


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


def check_pair(image_bytes: bytes, trimap_bytes: bytes, image_file: str,
               trimap_file: str) -> None:
    """Both decode, have the same size, and the trimap holds only 1, 2 and 3."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            image.load()
            image_size = image.size
    except Exception as error:
        raise BadSampleError(f"image {image_file} cannot be decoded: {error}") from None
    try:
        with Image.open(io.BytesIO(trimap_bytes)) as trimap:
            values = np.asarray(trimap)
            trimap_size = trimap.size
    except Exception as error:
        raise BadSampleError(f"trimap {trimap_file} cannot be decoded: {error}") from None
    if image_size != trimap_size:
        raise BadSampleError(f"trimap {trimap_file} is {trimap_size[0]}x{trimap_size[1]} but "
                             f"its image is {image_size[0]}x{image_size[1]}")
    unexpected = sorted(set(np.unique(values).tolist()) - set(features.TRIMAP_VALUES))
    if unexpected:
        raise BadSampleError(f"trimap {trimap_file} holds values {unexpected[:5]} outside "
                             f"{list(features.TRIMAP_VALUES)}")


def make_example(data_dir: str, entry: layout.ListEntry) -> tf.train.Example:
    """The checked tf.Example for one list entry; BadSampleError names the file and the fault."""
    check_entry(entry)
    image_file = layout.image_path(data_dir, entry.name)
    trimap_file = layout.trimap_path(data_dir, entry.name)
    image_bytes = _read(image_file, "image")
    trimap_bytes = _read(trimap_file, "trimap")
    check_pair(image_bytes, trimap_bytes, image_file, trimap_file)
    return tf.train.Example(features=tf.train.Features(feature={
        features.IMAGE_KEY: _bytes_feature(image_bytes),
        features.MASK_KEY: _bytes_feature(trimap_bytes),
        features.FILE_NAME_KEY: _bytes_feature(os.path.basename(image_file).encode()),
        features.LABEL_KEY: _int_feature(entry.class_id - 1),
        features.SPECIES_KEY: _int_feature(entry.species - 1),
    }))
