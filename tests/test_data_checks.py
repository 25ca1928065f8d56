"""What ingest measures of the images, and the data gate's skew and drift checks on it.

Statistics come from TFDV over examples the real ingest wrote (the ExampleGen's executor on
generated data in the dataset's layout), so the gate is checked on what StatisticsGen would
describe; the pipeline runs that stop on drift, warn, and pass are in tests/test_e2e_retraining.py.
"""

import json
import os

import numpy as np
import pytest
import tensorflow_data_validation as tfdv

from components import anomalies_gate, data_checks
from components import oxford_pet_example_gen as example_gen
from oxford_pet import demo, layout, measures


def test_the_measures_of_a_gray_image_and_its_trimap():
    pixels = np.full((40, 64, 3), 100, np.uint8)
    pixels[:, 32:] = 200  # half dark, half bright, no colour
    trimap = np.ones((40, 64), np.uint8)
    trimap[:10] = 2
    trimap[:, :6] = 3
    found = measures.measure(pixels, trimap, 1234)
    assert (found["image_height"], found["image_width"], found["image_bytes"]) == (40, 64, 1234)
    assert found["brightness_mean"] == pytest.approx(150, abs=0.5)
    assert found["brightness_std"] == pytest.approx(50, abs=0.5)
    assert found["colourfulness"] == pytest.approx(0.0, abs=1e-3)
    shares = (found["pet_fraction"], found["background_fraction"], found["border_fraction"])
    assert sum(shares) == pytest.approx(1.0)
    assert shares == pytest.approx(((30 * 58) / 2560, (10 * 58) / 2560, (40 * 6) / 2560))
    red = np.zeros_like(pixels)
    red[..., 0] = 255
    assert measures.measure(red, trimap, 1)["colourfulness"] == pytest.approx(85.5, abs=0.1)


def test_the_schema_bounds_every_measure_as_measures_py_says():
    from pipeline.pipeline import SCHEMA_FILE

    schema = tfdv.load_schema_text(SCHEMA_FILE)
    found = {feature.name: feature for feature in schema.feature}
    for measure in measures.MEASURES:
        domain = found[measure.key].int_domain if measure.kind == "int" \
            else found[measure.key].float_domain
        assert (domain.min, domain.max) == pytest.approx((measure.lowest, measure.highest))


def _statistics(tmp_path, name, count, seed, min_size=64, max_size=96, edit=None,
                eval_scale=1):
    """TFDV statistics of what ingest writes for a generated dataset: {split: stats}."""
    data_dir = str(tmp_path / name / "data")
    demo.make_demo_data(data_dir, count=count, seed=seed, min_size=min_size, max_size=max_size)
    if eval_scale != 1:
        bigger = str(tmp_path / name / "bigger")
        demo.make_demo_data(bigger, count=count, seed=seed, min_size=min_size * eval_scale,
                            max_size=max_size * eval_scale)
        for entry in layout.read_list(os.path.join(data_dir, layout.SPLIT_LISTS["eval"])):
            for path in (layout.image_path, layout.trimap_path):
                os.replace(path(bigger, entry.name), path(data_dir, entry.name))
    if edit:
        edit(data_dir)
    from tests.test_ingest import _run

    examples = _run(example_gen.Executor(), data_dir, str(tmp_path / name / "out"))
    return {split: tfdv.generate_statistics_from_tfrecord(  # .gz: read as GZIP
        os.path.join(examples.uri, f"Split-{split}", "*")) for split in ("train", "eval")}


def _write(tmp_path, name, statistics):
    uri = tmp_path / name
    for split, stats in statistics.items():
        (uri / f"Split-{split}").mkdir(parents=True)
        (uri / f"Split-{split}" / data_checks.STATISTICS_FILE).write_bytes(
            stats.SerializeToString())
    return str(uri)


def test_a_dataset_whose_eval_images_are_twice_as_large_is_reported_as_skew(tmp_path, capsys):
    skewed = _statistics(tmp_path, "skewed", 32, 4, eval_scale=2)
    settings = data_checks.DataCheckSettings()
    summary = anomalies_gate.run_checks(_write(tmp_path, "stats", skewed), 1, "", False,
                                        settings, str(tmp_path / "checks"))
    features = {f["feature"] for f in summary["findings"]}
    assert {"image_height", "image_width"} <= features
    assert all(f["comparison"] == "skew" for f in summary["findings"])
    lines = anomalies_gate.decide(summary, settings)  # a warning by default: no stop
    width = next(line for line in lines if "image_width" in line)
    assert width.startswith("warning: skew in image_width: median width ")
    assert " in eval, " in width and " in train (Jensen-Shannon divergence " in width
    # What was written reads back with TFDV's own loader.
    from tensorflow_data_validation.utils import anomalies_util

    written = anomalies_util.load_anomalies_binary(str(
        tmp_path / "checks" / "Split-skew" / anomalies_gate.ANOMALIES_FILE))
    assert {"image_height", "image_width"} <= set(written.anomaly_info)
    assert json.loads((tmp_path / "checks" / measures.CHECKS_FILE).read_text())["splits"]
    with pytest.raises(anomalies_gate.DataDriftError, match="skew in image_width"):
        anomalies_gate.decide(summary, data_checks.DataCheckSettings(on_skew="stop"))


@pytest.fixture(scope="module")
def spans(tmp_path_factory):
    """Span 1, a span drawn like it (another seed), and two shifted ones, as statistics."""
    tmp_path = tmp_path_factory.mktemp("spans")

    def little_pet(data_dir):
        from PIL import Image

        for entry in layout.read_list(os.path.join(data_dir, layout.LIST_FILE)):
            path = layout.trimap_path(data_dir, entry.name)
            values = np.asarray(Image.open(path)).copy()
            pet = np.argwhere(values == 1)
            values[values == 1] = 2  # the labelling tool lost the pet...
            for row, col in pet[:3]:
                values[row, col] = 1  # ...but for a few pixels
            Image.fromarray(values).save(path)

    def images(change):
        def edit(data_dir):
            from PIL import Image

            for entry in layout.read_list(os.path.join(data_dir, layout.LIST_FILE)):
                path = layout.image_path(data_dir, entry.name)
                change(Image.open(path).convert("RGB")).save(path, quality=90)
        return edit

    def flipped_classes(data_dir):  # an export that swapped the trimap's pet and background
        from PIL import Image

        for entry in layout.read_list(os.path.join(data_dir, layout.LIST_FILE)):
            path = layout.trimap_path(data_dir, entry.name)
            values = np.asarray(Image.open(path))
            Image.fromarray(np.choose(values - 1, [2, 1, 3]).astype(np.uint8)).save(path)

    gray = images(lambda image: image.convert("L").convert("RGB"))  # another camera's mode
    dark = images(lambda image: image.point(lambda value: value * 0.4))  # under-exposed
    return {"first": _statistics(tmp_path, "first", 32, 1),
            "alike": _statistics(tmp_path, "alike", 32, 2),
            "larger": _statistics(tmp_path, "larger", 32, 3, min_size=256, max_size=384),
            "no_pet": _statistics(tmp_path, "no_pet", 32, 5, edit=little_pet),
            "gray": _statistics(tmp_path, "gray", 32, 6, edit=gray),
            "dark": _statistics(tmp_path, "dark", 32, 7, edit=dark),
            "flipped": _statistics(tmp_path, "flipped", 32, 8, edit=flipped_classes)}


@pytest.mark.parametrize("span, shifted", [("alike", set()),
                                           ("larger", {"image_height", "image_width"}),
                                           ("no_pet", {"pet_fraction"}),
                                           ("gray", {"colourfulness"}),
                                           ("dark", {"brightness_mean"}),
                                           ("flipped", {"pet_fraction", "background_fraction"})])
def test_drift_is_found_in_the_shifted_feature_and_not_between_alike_spans(spans, span, shifted):
    found = data_checks.compare(spans[span]["train"], spans["first"]["train"],
                                data_checks.Comparison.DRIFT, data_checks.DataCheckSettings(),
                                ("span 2", "span 1"))
    assert shifted <= {finding.feature for finding in found}
    if not shifted:
        assert found == []
    for finding in found:
        assert finding.divergence > finding.threshold >= 0.1
        assert finding.sentence.startswith(f"drift in {finding.feature}: ")
        assert " in span 2, " in finding.sentence and " in span 1 (" in finding.sentence


def test_the_threshold_is_the_noise_floor_for_small_spans_and_the_setting_for_large_ones():
    settings = data_checks.DataCheckSettings()
    assert settings.floor(16) == pytest.approx(0.69, abs=0.01)  # bench/DRIFT.md: 0.63 at 16
    assert max(settings.numeric_threshold, settings.floor(3680)) == settings.numeric_threshold
    with pytest.raises(ValueError, match="on_drift must be 'stop' or 'warn'"):
        data_checks.DataCheckSettings(on_drift="ignore").validate()


def test_a_drift_stops_or_warns_or_is_accepted_as_the_settings_say():
    finding = data_checks.Finding("drift", "pet_fraction", 0.9, 0.1, "drift in pet_fraction: x")
    summary = lambda: {"findings": [finding.to_json()]}  # noqa: E731
    with pytest.raises(anomalies_gate.DataDriftError, match="drift in pet_fraction") as stopped:
        anomalies_gate.decide(summary(), data_checks.DataCheckSettings())
    assert "--accept-drift" in str(stopped.value)
    warned = summary()
    assert anomalies_gate.decide(warned, data_checks.DataCheckSettings(on_drift="warn")) == [
        "warning: drift in pet_fraction: x"]
    assert warned["findings"][0]["decision"] == "warned"
    accepted = summary()
    assert anomalies_gate.decide(accepted, data_checks.DataCheckSettings(accept_drift=True)) == [
        "accepted (--accept-drift): drift in pet_fraction: x"]
    assert accepted["findings"][0]["decision"] == "accepted"


def test_drift_against_a_served_version_whose_statistics_are_gone_is_said(spans, tmp_path):
    model_dir = tmp_path / "serving" / "pet_unet"
    (model_dir / "1").mkdir(parents=True)
    (model_dir / "1" / "push_manifest.json").write_text(json.dumps(
        {"data": {"span": 1, "statistics": str(tmp_path / "removed")}}))
    summary = anomalies_gate.run_checks(_write(tmp_path, "stats", spans["alike"]), 2,
                                        str(model_dir), True, data_checks.DataCheckSettings(),
                                        str(tmp_path / "checks"))
    assert summary["baseline"] is None and summary["findings"] == []
    assert summary["drift_note"].startswith("drift not compared: version 1's statistics at ")
    (model_dir / "1" / "push_manifest.json").write_text(json.dumps(
        {"data": {"span": 1, "statistics": _write(tmp_path, "first", spans["first"])}}))
    summary = anomalies_gate.run_checks(_write(tmp_path, "stats2", spans["larger"]), 2,
                                        str(model_dir), True, data_checks.DataCheckSettings(),
                                        str(tmp_path / "checks2"))
    assert summary["baseline"]["version"] == 1 and "drift_note" not in summary
    assert {"image_height", "image_width"} <= {f["feature"] for f in summary["findings"]
                                               if f["comparison"] == "drift"}
