"""The model code's hash (pipeline/code_version.py): what changes it and what does not.

It is the only thing that breaks Transform's and Trainer's cache when trainer/ changes (the
components name their functions; no wheel hashes the files any more).
"""

import shutil

from pipeline.code_version import code_version
from pipeline.config import TRAINER_DIR


def copy_of_trainer(tmp_path):
    copy = tmp_path / "trainer"
    shutil.copytree(TRAINER_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_same_files_give_the_same_hash_anywhere(tmp_path):
    copy = copy_of_trainer(tmp_path)
    assert code_version(str(copy)) == code_version()
    assert len(code_version()) == 16 and int(code_version(), 16) >= 0
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\0compiled")
    (copy / "NOTES.txt").write_text("not code")
    assert code_version(str(copy)) == code_version()  # bytecode and other files do not count


def test_any_change_to_a_module_changes_the_hash(tmp_path):
    copy = copy_of_trainer(tmp_path)
    before = code_version(str(copy))
    train = copy / "train.py"
    train.write_bytes(train.read_bytes() + b"\n# one more line\n")
    edited = code_version(str(copy))
    assert edited != before
    (copy / "extra.py").write_text("")  # a new, empty module
    assert code_version(str(copy)) not in (before, edited)
    (copy / "extra.py").unlink()
    (copy / "train.py").rename(copy / "train2.py")  # the same bytes under another name
    assert code_version(str(copy)) not in (before, edited)
