"""Shared fixtures: small generated datasets in the real layout."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """12 generated images in the Oxford-IIIT Pet layout (6 train, 6 eval)."""
    from oxford_pet import demo

    data_dir = str(tmp_path_factory.mktemp("small_dataset"))
    demo.make_demo_data(data_dir, count=12, seed=3, min_size=64, max_size=120)
    return data_dir


@pytest.fixture(scope="session")
def jpeg_and_png(small_dataset):
    """The first listed image of `small_dataset`: its JPEG bytes, and the same image as PNG."""
    import io

    from PIL import Image

    from oxford_pet import layout

    entry = layout.read_list(os.path.join(small_dataset, layout.LIST_FILE))[0]
    with open(layout.image_path(small_dataset, entry.name), "rb") as handle:
        jpeg = handle.read()
    png = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(png, "PNG")
    return jpeg, png.getvalue()
