"""The demo data generator writes the real dataset's layout, deterministically."""

import filecmp
import os

import numpy as np
from PIL import Image

from oxford_pet import breeds, demo, layout


def test_layout_lists_and_files_agree(small_dataset):
    all_entries = layout.read_list(os.path.join(small_dataset, layout.LIST_FILE))
    train = layout.read_list(os.path.join(small_dataset, layout.SPLIT_LISTS["train"]))
    test = layout.read_list(os.path.join(small_dataset, layout.SPLIT_LISTS["eval"]))
    assert len(all_entries) == 12 and len(train) == 6 and len(test) == 6
    assert sorted(train + test) == sorted(all_entries)
    with open(os.path.join(small_dataset, layout.LIST_FILE)) as handle:
        assert handle.readline().startswith("#")  # the real header
    images = sorted(os.listdir(os.path.join(small_dataset, layout.IMAGES_DIR)))
    trimaps = sorted(os.listdir(os.path.join(small_dataset, layout.TRIMAPS_DIR)))
    assert images == sorted(entry.name + ".jpg" for entry in all_entries)
    assert trimaps == sorted(entry.name + ".png" for entry in all_entries)
    for entry in all_entries:
        breed = breeds.breed_of_image(entry.name)
        assert (entry.class_id, entry.species, entry.breed_id) == (
            breed.class_id, breed.species, breed.breed_id)


def test_images_are_jpeg_and_trimaps_hold_1_2_3(small_dataset):
    for entry in layout.read_list(os.path.join(small_dataset, layout.LIST_FILE)):
        with Image.open(layout.image_path(small_dataset, entry.name)) as image:
            assert image.format == "JPEG" and image.mode == "RGB"
            size = image.size
        with Image.open(layout.trimap_path(small_dataset, entry.name)) as trimap:
            assert trimap.format == "PNG" and trimap.size == size
            values, counts = np.unique(np.asarray(trimap), return_counts=True)
        assert set(values.tolist()) == {1, 2, 3}
        shares = dict(zip(values.tolist(), counts / counts.sum()))
        assert 0.05 < shares[1] < 0.8  # a pet, not the whole picture
        assert shares[3] < shares[1]  # the border is a ring, not a region


def test_breeds_table_matches_the_dataset():
    assert len(breeds.BREEDS) == 37
    assert sum(b.species == breeds.CAT for b in breeds.BREEDS) == 12
    assert [b.breed_id for b in breeds.BREEDS if b.species == breeds.CAT] == list(range(1, 13))
    assert [b.breed_id for b in breeds.BREEDS if b.species == breeds.DOG] == list(range(1, 26))
    assert breeds.BY_NAME["yorkshire_terrier"].class_id == 37


def test_same_seed_same_files_and_count_extends(tmp_path):
    first, second, larger = (str(tmp_path / name) for name in ("a", "b", "c"))
    demo.make_demo_data(first, count=4, seed=7, min_size=48, max_size=64)
    demo.make_demo_data(second, count=4, seed=7, min_size=48, max_size=64)
    demo.make_demo_data(larger, count=6, seed=7, min_size=48, max_size=64)
    for name in os.listdir(os.path.join(first, layout.IMAGES_DIR)):
        for folder in (second, larger):
            assert filecmp.cmp(os.path.join(first, layout.IMAGES_DIR, name),
                               os.path.join(folder, layout.IMAGES_DIR, name), shallow=False)


def test_command_line_writes_a_dataset(tmp_path, capsys):
    from oxford_pet.__main__ import main

    assert main(["make-demo-data", str(tmp_path / "d"), "--count", "3", "--min-size", "40",
                 "--max-size", "48"]) == 0
    assert len(os.listdir(tmp_path / "d" / "images")) == 3
    assert main(["make-demo-data", str(tmp_path / "e"), "--count", "1"]) == 2
    assert "count must be at least 2" in capsys.readouterr().err
