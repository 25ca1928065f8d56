"""Oxford-IIIT Pet prepared by TensorFlow Datasets' own builders, for the tests.

The installed TFDS (the lock's 4.9.10) prepares `oxford_iiit_pet` 4.0.0; 3.2.0, the version the
TensorFlow tutorial loads, is prepared by TFDS 4.9.6, which cannot be installed beside it: its
wheel (pure Python, pinned by hash below) is downloaded once from PyPI into
~/.cache/petseg/tfds-4.9.6 and put first on the path of a subprocess that runs the same
`oxford_pet.tfds_dataset.prepare`. Both builders get the same extracted official layout (what
the archives unpack to), as the pipeline hands them the verified archives.
"""

import hashlib
import os
import subprocess
import sys
import zipfile

from oxford_pet import download

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TFDS_496_SHA256 = "b14698a575e4a1e30f8e2ad6614e8e5f97036cc415b0d21eea6bc9f4d82b24ed"
ARCHIVE_NAMES = {key: archive.name for key, archive in download.ARCHIVES.items()}


def prepare_installed(tfds_data_dir: str, extracted: str):
    """4.0.0, with the installed TFDS, in this process."""
    from oxford_pet import tfds_dataset

    return tfds_dataset.prepare(tfds_data_dir, extracted, ARCHIVE_NAMES)


def tfds_496() -> str:
    """A directory holding TFDS 4.9.6's package (downloaded and checked once)."""
    root = os.path.join(os.path.expanduser("~"), ".cache", "petseg", "tfds-4.9.6")
    if os.path.isdir(os.path.join(root, "tensorflow_datasets")):
        return root
    os.makedirs(os.path.dirname(root), exist_ok=True)
    wheel = root + ".whl"
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary", ":all:", "--dest", os.path.dirname(root),
                    "tensorflow-datasets==4.9.6"], check=True, capture_output=True)
    os.replace(os.path.join(os.path.dirname(root),
                            "tensorflow_datasets-4.9.6-py3-none-any.whl"), wheel)
    with open(wheel, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    if digest != TFDS_496_SHA256:
        raise AssertionError(f"{wheel}: sha256 {digest}, not the pinned {TFDS_496_SHA256}")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(root + ".partial")
    os.replace(root + ".partial", root)
    return root


def prepare_3_2_0(tfds_data_dir: str, extracted: str) -> None:
    """3.2.0, with TFDS 4.9.6's own builder, in a subprocess."""
    script = ("import tensorflow_datasets as tfds\n"
              "assert tfds.__version__ == '4.9.6', tfds.__version__\n"
              "from oxford_pet import tfds_dataset\n"
              f"print(tfds_dataset.prepare({tfds_data_dir!r}, {extracted!r}, "
              f"{ARCHIVE_NAMES!r}).version)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, timeout=600,
                            env={**os.environ, "PYTHONPATH": f"{tfds_496()}:{REPO}"})
    assert result.returncode == 0 and result.stdout.strip().endswith("3.2.0"), \
        result.stdout[-2000:] + result.stderr[-3000:]
