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
