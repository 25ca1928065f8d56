"""Oxford-IIIT Pet as TensorFlow Datasets prepares it: find a prepared version, or prepare one
with TFDS's own builder from the official archives this project downloads and verifies.

A prepared dataset is `<tfds data dir>/oxford_iiit_pet/<version>/` holding `dataset_info.json`
and record shards; TFDS 4.9.6 builds version 3.2.0 (the one the TensorFlow tutorial loads with
`tfds.load('oxford_iiit_pet:3.*.*')`), TFDS 4.9.9 and later build 4.0.0 (which adds
`head_bbox`). Both hold the features the pipeline reads (image, segmentation_mask, label,
species, file_name), so either is read, through TFDS's own metadata (`tfds.builder_from_
directory`: the split's shard files and how many examples each split holds, which ingest then
accounts for) and its record format. The installed TFDS builds one version only (its
builder's VERSION); preparing another needs that TFDS release, as the error says.

Preparing: the builder's `download_and_extract` is handed the directory the official archives
were extracted to (oxford_pet/download.py: resumed, size- and SHA-256-checked), the way TFDS's
own `DatasetBuilderTestCase` hands a builder local files, so nothing is downloaded twice and
TFDS fetches nothing itself; any other URL the builder asked for would be refused.
"""

import os
import re
from typing import Dict, List, NamedTuple, Optional

from storage import files

NAME = "oxford_iiit_pet"
INFO_FILE = "dataset_info.json"
# TFDS's splits -> the pipeline's
SPLITS = {"train": "train", "test": "eval"}
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


class Prepared(NamedTuple):
    version: str  # e.g. "4.0.0"
    path: str  # <data dir>/oxford_iiit_pet/<version>
    examples: Dict[str, int]  # the pipeline's split -> examples TFDS recorded
    shards: Dict[str, List[str]]  # the pipeline's split -> record files
    file_format: str  # "tfrecord" (read), or what TFDS wrote instead


def _key(version: str) -> List[int]:
    return [int(part) for part in version.split(".")]


def prepared_versions(data_dir: str) -> List[str]:
    """Versions with a complete preparation (a dataset_info.json), oldest first."""
    root = os.path.join(data_dir, NAME)
    if not files.isdir(root):
        return []
    return sorted((name for name in files.names(root) if _VERSION.match(name)
                   and files.isfile(os.path.join(root, name, INFO_FILE))), key=_key)


def matches(version: str, wanted: Optional[str]) -> bool:
    """`wanted` is a version ("3.2.0"), a major version ("3"), or TFDS's "3.*.*"."""
    if not wanted:
        return True
    parts = [part for part in wanted.split(".") if part not in ("*", "")]
    return version.split(".")[:len(parts)] == parts


def choose(data_dir: str, wanted: Optional[str] = None) -> Optional[str]:
    """The newest prepared version matching `wanted`, or None."""
    found = [version for version in prepared_versions(data_dir) if matches(version, wanted)]
    return found[-1] if found else None


def read(data_dir: str, version: str) -> Prepared:
    """What TFDS recorded about a prepared version (its own reader of dataset_info.json)."""
    import tensorflow_datasets as tfds

    path = os.path.join(data_dir, NAME, version)
    builder = tfds.builder_from_directory(path)
    info = builder.info
    examples, shards = {}, {}
    for tfds_split, split in SPLITS.items():
        if tfds_split not in info.splits:
            raise ValueError(f"TFDS {NAME} {version} in {path} has no '{tfds_split}' split: "
                             "it was prepared partially; prepare it again")
        examples[split] = int(info.splits[tfds_split].num_examples)
        shards[split] = [str(name) for name in info.splits[tfds_split].filepaths]
    file_format = str(getattr(info, "file_format", None) or "tfrecord").rsplit(".", 1)[-1]
    return Prepared(version, path, examples, shards, file_format.lower())


def builder_version() -> str:
    """The version the installed TFDS's builder prepares."""
    import tensorflow_datasets as tfds

    return str(tfds.builder_cls(NAME).VERSION)


def tfds_version() -> str:
    import tensorflow_datasets as tfds

    return tfds.__version__


def cannot_build(wanted: str) -> str:
    """Why the installed TFDS cannot prepare `wanted`, and what would."""
    return (f"TFDS {tfds_version()} (installed) prepares {NAME} {builder_version()} only; "
            f"{NAME} 3.2.0 (the TensorFlow tutorial's '3.*.*') is prepared by TFDS 4.9.6: "
            "in an environment with tensorflow-datasets==4.9.6, `tfds build oxford_iiit_pet "
            "--data_dir DIR`, then pass --tfds-data-dir DIR"
            if not matches(builder_version(), wanted) else "")


def prepare(data_dir: str, extracted_dir: str, archive_names: Dict[str, str]) -> Prepared:
    """Prepares the installed builder's version under `data_dir` from the official archives
    already extracted to `extracted_dir` (images/, annotations/); `archive_names` maps the
    builder's download keys to the archive file names it asks for ({"images":
    "images.tar.gz", ...}). TFDS shows its own progress bars."""
    import tensorflow_datasets as tfds
    from etils import epath

    builder = tfds.builder(NAME, data_dir=data_dir)
    make_manager = builder._make_download_manager  # noqa: SLF001 - see the module docstring

    def hand_over(urls):
        given = {}
        for key, url in urls.items():
            name = str(url).rstrip("/").rsplit("/", 1)[-1]
            if archive_names.get(key) != name:
                raise ValueError(f"TFDS's {NAME} builder asked for {url} as {key!r}; this "
                                 f"project hands it only {archive_names}")
            given[key] = epath.Path(extracted_dir)
        return given

    def local_manager(*args, **kwargs):
        manager = make_manager(*args, **kwargs)
        manager.download_and_extract = hand_over
        return manager

    builder._make_download_manager = local_manager  # noqa: SLF001
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
        try_download_gcs=False))
    return read(data_dir, str(builder.version))
