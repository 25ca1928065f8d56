"""List files as other tools write them, and names the disk spells otherwise: each is read or
refused in one sentence, and every line is accounted for."""

import os
import shutil
import unicodedata

import pytest

from oxford_pet import demo, layout, records


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("lists"))
    demo.make_demo_data(data_dir, count=12, seed=3, min_size=64, max_size=80)
    return data_dir


def _lines(data_dir, split="train"):
    with open(os.path.join(data_dir, layout.SPLIT_LISTS[split]), encoding="utf-8") as handle:
        return handle.read()


@pytest.mark.parametrize("encoding, mark", [("utf-16-le", "\ufeff"), ("utf-16-be", "\ufeff"),
                                            ("utf-32-le", "\ufeff"), ("utf-8", "\ufeff"),
                                            ("utf-8", "")])
def test_a_list_with_a_byte_order_mark_reads_as_utf8(dataset, tmp_path, encoding, mark):
    """What Windows editors save ('Unicode' is UTF-16 LE with a mark): the same entries."""
    text = _lines(dataset).replace("\n", "\r\n")
    path = tmp_path / "trainval.txt"
    path.write_bytes((mark + text).encode(encoding))
    expected = layout.read_list(os.path.join(dataset, layout.SPLIT_LISTS["train"]))
    assert layout.read_list(str(path)) == expected and len(expected) == 6


def test_a_split_read_from_utf16_counts_its_lines_not_its_nul_bytes(dataset, tmp_path):
    data_dir = str(tmp_path / "data")
    shutil.copytree(dataset, data_dir)
    path = os.path.join(data_dir, layout.SPLIT_LISTS["train"])
    text = _lines(dataset) + "\n"  # and one blank line
    with open(path, "wb") as handle:
        handle.write(("\ufeff" + text).encode("utf-16-le"))
    plan = layout.plan_split(data_dir, "train")
    assert (len(plan.entries), plan.refused, plan.blank_lines) == (6, [], 1)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_mark_is_refused_as_a_whole_in_one_line(dataset, tmp_path, encoding):
    path = tmp_path / "trainval.txt"
    path.write_bytes(_lines(dataset).encode(encoding))
    with pytest.raises(ValueError) as raised:
        layout.read_list(str(path))
    message = str(raised.value)
    assert "\n" not in message and str(path) in message
    assert "UTF-16" in message and "save it as UTF-8" in message


def test_a_mark_on_text_of_another_encoding_is_refused(tmp_path):
    path = tmp_path / "trainval.txt"
    path.write_bytes(b"\xff\xfeA\x00b\x00y")  # a UTF-16 LE mark, then an odd byte count
    with pytest.raises(ValueError, match="UTF-16-LE byte order mark but is not UTF-16-LE text"):
        layout.read_list(str(path))


@pytest.mark.parametrize("name, said", [("Bengal_\x001", "U+0000 (NUL)"),
                                        ("Bengal_\x1b1", "U+001B")])
def test_a_control_character_in_a_name_is_named(dataset, tmp_path, name, said):
    data_dir = str(tmp_path / "data")
    shutil.copytree(dataset, data_dir)
    path = os.path.join(data_dir, layout.SPLIT_LISTS["train"])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{name} 6 1 2\n")
    plan = layout.plan_split(data_dir, "train")
    [refused] = plan.refused
    assert len(plan.entries) == 6 and refused.name == "line 7"
    assert f"holds the control character {said}" in refused.reason


def test_a_file_named_in_another_unicode_normalization_is_found_and_said(dataset, tmp_path):
    """The list says 'café' as one code point (NFC); macOS wrote the file as 'e' + U+0301."""
    data_dir = str(tmp_path / "data")
    shutil.copytree(dataset, data_dir)
    entry = layout.read_list(os.path.join(data_dir, layout.SPLIT_LISTS["train"]))[0]
    listed = layout.ListEntry(entry.name.rsplit("_", 1)[0] + "_caf\u00e9", *entry[1:])
    on_disk = unicodedata.normalize("NFD", listed.name)
    assert on_disk != listed.name
    os.rename(layout.image_path(data_dir, entry.name),
              os.path.join(os.path.dirname(layout.image_path(data_dir, entry.name)),
                           on_disk + ".jpg"))
    with pytest.raises(records.BadSampleError) as raised:
        records.make_sample(data_dir, listed)
    message = str(raised.value)
    assert "is missing" in message and repr(on_disk + ".jpg") in message
    assert "(NFD)" in message and "(NFC)" in message and "convmv" in message
