"""The model code's hash (trainer/code_version.py): what changes it and what does not, and the
Transform and Trainer entry points refusing code other than the compiled pipeline's.

It is the only thing that breaks Transform's and Trainer's cache when trainer/ changes (the
components name their functions; no wheel hashes the files any more).
"""

import shutil

import types

import pytest

from trainer import preprocessing, train
from trainer.code_version import CODE_VERSION_KEY, HERE as TRAINER_DIR, code_version


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


def test_transform_and_the_trainer_refuse_code_the_pipeline_was_not_compiled_with():
    """An image not rebuilt after a change: the compiled custom_config names another version
    than the code the step imports. Both entry points stop before any work, naming both."""
    stale = {CODE_VERSION_KEY: "0123456789abcdef", "image_size": 64}
    with pytest.raises(RuntimeError, match=rf"Transform runs trainer/ version {code_version()}"
                                           r", but the pipeline was compiled with version "
                                           r"0123456789abcdef.*rebuild and push"):
        preprocessing.preprocessing_fn({}, stale)  # no inputs needed: refused first
    with pytest.raises(RuntimeError, match="Trainer runs trainer/ version"):
        train.run_fn(types.SimpleNamespace(custom_config=stale))
    current = {CODE_VERSION_KEY: code_version(), "image_size": 64}
    assert train.checked_settings(types.SimpleNamespace(custom_config=current)).image_size == 64
