"""trainer/example_cache.py: where the Trainer keeps the decoded examples between epochs, and
input_fn reading them back from each place the same."""

import os

import numpy as np
import pytest

from tests.test_class_weights import SIZE, _FakeTransformOutput, _write_examples
from trainer import example_cache, train

MIB = 2 ** 20


def test_the_examples_go_to_memory_while_they_fit_its_share_then_to_disk_then_nowhere():
    share = example_cache.MEMORY_SHARE
    assert example_cache.where(int(share * 1000 * MIB), 1000 * MIB, 0) == "memory"
    assert example_cache.where(int(share * 1000 * MIB) + 1, 1000 * MIB, 10 ** 12) == "disk"
    needed = 600 * MIB  # over the memory share; the disk needs the margin on top
    assert example_cache.where(needed, 1000 * MIB, int(needed * example_cache.DISK_MARGIN)) == (
        "disk")
    assert example_cache.where(needed, 1000 * MIB, needed) == "none"


def test_the_plan_counts_the_records_and_every_nth_validation_example(tmp_path):
    _write_examples(tmp_path / "train-0.gz", 5)
    _write_examples(tmp_path / "train-1.gz", 4, seed=1)
    _write_examples(tmp_path / "eval-0.gz", 7, seed=2)
    train_files, eval_files = [str(tmp_path / "train-*.gz")], [str(tmp_path / "eval-*.gz")]
    per_example = example_cache.BYTES_PER_PIXEL * SIZE ** 2
    needed = (9 + 4) * per_example  # validation: one in 2 of 7 is 4
    roomy = example_cache.plan(train_files, eval_files, SIZE, 2, memory=10 ** 12)
    assert (roomy.train, roomy.eval, roomy.directory) == (True, True, None)
    assert "9 training and 4 validation examples" in roomy.line
    tight = example_cache.plan(train_files, eval_files, SIZE, 2,
                               memory=int(needed / example_cache.MEMORY_SHARE) - 1)
    try:
        assert tight.train == os.path.join(tight.directory, "train")
        assert tight.eval == os.path.join(tight.directory, "eval")
        assert "on local disk" in tight.line and os.path.isdir(tight.directory)
    finally:
        tight.remove()
    assert not os.path.exists(tight.directory)


@pytest.mark.parametrize("place", ["memory", "disk"])
def test_every_epoch_reads_the_same_batches_from_the_cache(tmp_path, place):
    masks = _write_examples(tmp_path / "train.gz", 6)
    cache = True if place == "memory" else str(tmp_path / "cache" / "train")
    os.makedirs(tmp_path / "cache")
    dataset = train.input_fn([str(tmp_path / "*.gz")], _FakeTransformOutput(), 3, cache=cache)
    epochs = [[mask.numpy() for _, mask in dataset] for _ in range(2)]
    for epoch in epochs:
        np.testing.assert_array_equal(np.concatenate(epoch), masks)
    if place == "disk":  # the second epoch came from tf.data's cache files
        assert any(name.startswith("train") for name in os.listdir(tmp_path / "cache"))
        os.remove(tmp_path / "train.gz")
        again = [mask.numpy() for _, mask in dataset]
        np.testing.assert_array_equal(np.concatenate(again), masks)


def test_run_fn_keeps_the_examples_on_disk_when_memory_is_short_and_removes_them(
        runs, tmp_path, monkeypatch, capsys):
    """The Trainer on the shared run's Transform output, told that 1 KiB of memory is left:
    it says where the examples go, trains from there, and leaves no cache files behind."""
    import re

    monkeypatch.setattr(example_cache, "available_memory", lambda: 1024)
    train.run_fn(runs.run_fn_args(str(tmp_path), {
        "image_size": 64, "epochs": 2, "batch_size": 4, "encoder_weights": "none"}))
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if "decoded examples kept" in line]
    share = f"{example_cache.MEMORY_SHARE:.0%}"
    directory = re.search(rf"on local disk in (\S+), more than {share} of memory", line).group(1)
    assert re.search(r"\(\d+ training and \d+ validation examples, [\d,]+ MiB; 0 MiB of memory "
                     r"available\)", line), line
    assert not os.path.exists(directory)  # removed after training
    assert "[Trainer] epoch 2/2" in out and os.path.isdir(tmp_path / "serving")
