"""predict.py on the model the shared small pipeline run pushed (conftest.py `runs`):
a JPEG, a PNG, a file that is not an image, a truncated JPEG and a file that cannot be read,
in one batch."""

import csv
import json
import os

import numpy as np
import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def inputs(tmp_path, jpeg_and_png):
    jpeg, png = jpeg_and_png
    folder = tmp_path / "inputs"
    (folder / "more").mkdir(parents=True)
    (folder / "cat.jpg").write_bytes(jpeg)
    (folder / "more" / "cat.png").write_bytes(png)
    (folder / "notes.jpg").write_text("this is not an image")
    (folder / "truncated.jpg").write_bytes(jpeg[:300])  # a JPEG header, then nothing
    unreadable = tmp_path / "gone.jpg"
    unreadable.symlink_to(tmp_path / "missing-target.jpg")  # reading it fails, even as root
    return str(folder), str(unreadable)


def test_predict_writes_masks_overlays_and_a_summary(runs, inputs, tmp_path, capsys):
    import predict
    from PIL import Image

    config = runs.config
    folder, unreadable = inputs
    output = tmp_path / "out"
    status = predict.main([folder, unreadable, "--output", str(output),
                           "--serving-dir", config.serving_dir,
                           "--model-name", config.model_name])
    assert status == 1  # three inputs failed; the others were still segmented
    captured = capsys.readouterr()
    assert os.path.join(config.model_dir, "1") in captured.out
    assert "2 of 5 images segmented" in captured.out
    assert "not an image" in captured.err and "cannot read the file" in captured.err

    rows = {os.path.basename(row["input"]): row
            for row in csv.DictReader(open(output / "summary.csv"))}
    assert json.load(open(output / "summary.json"))[0]["input"] == rows["cat.jpg"]["input"]
    assert rows["notes.jpg"]["status"] == "error" and "not an image" in rows["notes.jpg"]["error"]
    assert rows["gone.jpg"]["status"] == "error" and "cannot read" in rows["gone.jpg"]["error"]
    assert rows["truncated.jpg"]["status"] == "error"
    assert "damaged or truncated" in rows["truncated.jpg"]["error"]
    originals = Image.open(os.path.join(folder, "cat.jpg")).size
    for name in ("cat.jpg", "cat.png"):
        row = rows[name]
        assert row["status"] == "ok", row
        shares = [float(row[key]) for key in ("pet_share", "background_share", "border_share")]
        assert sum(shares) == pytest.approx(1.0, abs=2e-3)
        mask = Image.open(row["mask"])
        assert mask.mode == "P" and mask.size == originals  # class ids at the image's size
        values = np.asarray(mask)
        assert set(np.unique(values).tolist()) <= {0, 1, 2}
        assert float(row["pet_share"]) == pytest.approx(np.mean(values == 0), abs=0.05)
        assert Image.open(row["overlay"]).size == originals
    assert rows["cat.jpg"]["mask"] != rows["cat.png"]["mask"]  # one output per input


def test_predict_without_a_pushed_model_says_so(tmp_path, capsys):
    import predict

    image = tmp_path / "x.jpg"
    image.write_bytes(b"")
    assert predict.main([str(image), "--output", str(tmp_path / "out"),
                         "--serving-dir", str(tmp_path / "empty")]) == 2
    assert "no model has been pushed" in capsys.readouterr().err
