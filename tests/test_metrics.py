"""trainer/metrics.py: confusion-matrix arithmetic on hand-made masks, and the TFMA plumbing."""

import json
import math

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

from trainer import features, metrics

PET, BACKGROUND, BORDER = 0, 1, 2


@pytest.fixture
def masks():
    # 4x4 truth: 4 pet, 8 background, 4 border pixels.
    truth = np.array([[1, 1, 1, 1],
                      [1, 0, 0, 2],
                      [1, 0, 0, 2],
                      [1, 1, 2, 2]])
    # Prediction: one pet pixel called background, two border pixels called pet.
    predicted = np.array([[1, 1, 1, 1],
                          [1, 0, 1, 0],
                          [1, 0, 0, 0],
                          [1, 1, 2, 2]])
    return truth, predicted


def test_confusion_matrix_counts_pixels(masks):
    matrix = metrics.confusion_matrix(*masks)
    np.testing.assert_array_equal(matrix, [[3, 1, 0],
                                           [0, 8, 0],
                                           [2, 0, 2]])
    assert matrix.sum() == 16


def test_per_class_accuracy_and_iou(masks):
    matrix = metrics.confusion_matrix(*masks)
    np.testing.assert_allclose(metrics.per_class_accuracy(matrix), [3 / 4, 8 / 8, 2 / 4])
    # IoU = TP / (TP + FP + FN): pet 3/(3+2+1), background 8/(8+1+0), border 2/(2+0+2)
    np.testing.assert_allclose(metrics.per_class_iou(matrix), [3 / 6, 8 / 9, 2 / 4])
    assert metrics.overall_accuracy(matrix) == pytest.approx(13 / 16)
    assert metrics.mean_iou(matrix) == pytest.approx((3 / 6 + 8 / 9 + 2 / 4) / 3)


def test_a_class_absent_everywhere_is_nan_not_zero():
    matrix = metrics.confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]))
    assert math.isnan(metrics.per_class_accuracy(matrix)[BORDER])
    assert math.isnan(metrics.per_class_iou(matrix)[BORDER])
    assert metrics.mean_iou(matrix) == pytest.approx((1 / 2 + 1 / 2) / 2)


def test_perfect_prediction():
    truth = np.random.default_rng(0).integers(0, 3, (8, 8))
    matrix = metrics.confusion_matrix(truth, truth)
    assert metrics.overall_accuracy(matrix) == 1.0 and metrics.mean_iou(matrix) == 1.0


def test_labels_outside_the_classes_are_refused():
    with pytest.raises(ValueError, match="label class ids"):
        metrics.confusion_matrix(np.array([0, 3]), np.array([0, 1]))


def test_predicted_classes_from_logits_or_a_dict():
    logits = np.zeros((2, 2, 3))
    logits[0, 0, 2] = 5.0
    logits[1, 1, 1] = 5.0
    expected = [[2, 0], [0, 1]]
    np.testing.assert_array_equal(metrics.predicted_classes(logits), expected)
    np.testing.assert_array_equal(
        metrics.predicted_classes({features.LOGITS_KEY: logits}), expected)


def _extracts(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """What TFMA hands the preprocessors: the raw example's trimap PNG (here at the model's
    size, so the label is `truth` itself) and the logits; no labels (the EvalConfig has no
    label_key: the label is derived from the trimap)."""
    logits = np.eye(3)[predicted] * 4.0  # [H, W, 3], argmax == predicted
    return {tfma.FEATURES_KEY: {features.MASK_KEY: np.array([_png(_trimap(truth))], object)},
            tfma.PREDICTIONS_KEY: logits}


def _run(metric: metric_types.Metric, examples, model_names=None):
    """Runs the metric's computations the way TFMA does: preprocess, combine, derive."""
    computations = metric.computations(model_names=model_names)
    combine = [c for c in computations if isinstance(c, metric_types.MetricComputation)]
    derived = [c for c in computations if isinstance(c, metric_types.DerivedMetricComputation)]
    results = {}
    for computation in combine:
        accumulator = computation.combiner.create_accumulator()
        halves = [computation.combiner.create_accumulator() for _ in range(2)]
        for index, extracts in enumerate(examples):  # two shards, then merged
            for item in computation.preprocessors[0].process(extracts):
                halves[index % 2] = computation.combiner.add_input(halves[index % 2], item)
        accumulator = computation.combiner.merge_accumulators([accumulator] + halves)
        results.update(computation.combiner.extract_output(accumulator))
    for computation in derived:
        results.update(computation.result(results))
    if model_names:
        return {(key.model_name, key.name): value for key, value in results.items()}
    return {key.name: value for key, value in results.items()}


def test_tfma_metrics_sum_examples_and_derive_values(masks):
    truth, predicted = masks
    examples = [_extracts(truth, predicted), _extracts(truth, truth)]
    expected = metrics.confusion_matrix(truth, predicted) + metrics.confusion_matrix(truth, truth)
    values = _run(metrics.PixelConfusionMatrix(), examples)
    np.testing.assert_array_equal(values[metrics.CONFUSION_MATRIX_NAME], expected)
    for true_index in range(3):  # the nine scalar cells TFMA's dataframes can read
        for predicted_index in range(3):
            cell = metrics.PixelConfusionCell(true_index=true_index,
                                              predicted_index=predicted_index)
            assert _run(cell, examples)[cell.name] == expected[true_index, predicted_index]
            assert cell.name == features.confusion_cell_name(
                features.CLASS_NAMES[true_index], features.CLASS_NAMES[predicted_index])
            assert type(cell)(**cell.get_config()).get_config() == cell.get_config()
    assert _run(metrics.PixelAccuracy(), examples)["pixel_accuracy"] == pytest.approx(29 / 32)
    assert _run(metrics.ClassPixelAccuracy(class_index=BORDER), examples)[
        "border_pixel_accuracy"] == pytest.approx(6 / 8)
    assert _run(metrics.ClassIoU(class_index=PET), examples)["pet_iou"] == pytest.approx(
        metrics.per_class_iou(expected)[PET])
    assert _run(metrics.MeanIoU(), examples)["mean_iou"] == pytest.approx(
        metrics.mean_iou(expected))


def test_candidate_and_baseline_are_scored_apart(masks):
    """With a baseline, TFMA keys labels and predictions by model name."""
    truth, predicted = masks
    one = _extracts(truth, predicted)
    extracts = {tfma.FEATURES_KEY: one[tfma.FEATURES_KEY],
                tfma.PREDICTIONS_KEY: {"candidate": _extracts(truth, truth)[tfma.PREDICTIONS_KEY],
                                       "baseline": one[tfma.PREDICTIONS_KEY]}}
    values = _run(metrics.PixelAccuracy(), [extracts], model_names=["candidate", "baseline"])
    assert values[("candidate", "pixel_accuracy")] == 1.0
    assert values[("baseline", "pixel_accuracy")] == pytest.approx(13 / 16)


def test_metric_configs_round_trip_through_tfma():
    configs = metrics.metric_configs()
    names = []
    for config in configs:
        if config.class_name == "ExampleCount":
            continue
        kwargs = json.loads(config.config) if config.config else {}
        metric = getattr(metrics, config.class_name)(**kwargs)
        clone = type(metric).from_config(metric.get_config())
        assert clone.name == metric.name and clone.get_config() == metric.get_config()
        names.append(metric.name)
    cells = {f"pixel_confusion_{true}_as_{predicted}" for true in features.CLASS_NAMES
             for predicted in features.CLASS_NAMES}
    expected = cells | {"pixel_accuracy", "mean_iou"} | {
        f"{name}_{kind}" for name in features.CLASS_NAMES for kind in ("pixel_accuracy", "iou")}
    expected |= {"native_" + name for name in expected} | {"foreground_iou"}
    assert set(names) == expected and len(names) == len(expected)
    assert {"native_pixel_accuracy", "native_mean_iou", "native_pet_iou", "native_border_iou",
            "native_background_iou"} <= set(names)  # the names the issue asks for
    assert [metrics.metric_name(c) for c in configs[1:]] == names
    assert set(features.GATE_METRICS) == expected - cells - {"native_" + c for c in cells}


def test_eval_config_path_builds_one_shared_confusion_computation():
    """TFMA instantiates the metrics by module and class name, and dedups the shared matrix."""
    from tensorflow_model_analysis.metrics import metric_specs

    spec = tfma.MetricsSpec(metrics=metrics.metric_configs())
    eval_config = tfma.EvalConfig(model_specs=[tfma.ModelSpec(label_key=features.MASK_XF)],
                                  metrics_specs=[spec])
    computations = metric_specs.to_computations([spec], eval_config=eval_config)
    derived_names = {key.name for c in computations
                     if isinstance(c, metric_types.DerivedMetricComputation) for key in c.keys}
    assert {"pixel_accuracy", "mean_iou", "pet_iou", "border_pixel_accuracy",
            "native_pixel_accuracy", "native_pet_iou", "foreground_iou"} <= derived_names
    for matrix in ("_pixel_confusion_matrix", "_native_pixel_confusion_matrix"):
        matrix_computations = {c for c in computations  # TFMA's identity: combiner and keys
                               if isinstance(c, metric_types.MetricComputation)
                               and any(k.name == matrix for k in c.keys)}
        assert len(matrix_computations) == 1, matrix  # one per resolution, shared


# ---- at each image's own size ----

def test_foreground_iou_merges_pet_and_border_against_background(masks):
    matrix = metrics.confusion_matrix(*masks)  # [[3, 1, 0], [0, 8, 0], [2, 0, 2]]
    np.testing.assert_array_equal(
        metrics.merge_classes(matrix, [(PET, BORDER), (BACKGROUND,)]), [[7, 1], [0, 8]])
    # Foreground: 8 true pixels, 7 predicted as pet or border (border called pet still counts),
    # 1 called background; no background pixel called foreground: IoU 7 / (7 + 0 + 1).
    assert metrics.foreground_iou(matrix) == pytest.approx(7 / 8)
    assert metrics.FOREGROUND_IDS == (PET, BORDER) and metrics.BACKGROUND_IDS == (BACKGROUND,)


def test_bilinear_taps_follow_half_pixel_centres():
    lower, upper, weight = metrics.bilinear_taps(4, 2)  # 2 -> 4: positions -0.25 .. 1.25
    np.testing.assert_array_equal(lower, [0, 0, 0, 1])
    np.testing.assert_array_equal(upper, [0, 1, 1, 1])
    np.testing.assert_allclose(weight, [0.75, 0.25, 0.75, 0.25])  # clamped at both edges


def _trimap(labels: np.ndarray) -> np.ndarray:
    return (labels + features.TRIMAP_VALUES[0]).astype(np.uint8)


def test_native_matrix_of_constant_logits_counts_every_native_pixel():
    logits = np.zeros((4, 4, 3), np.float32)
    logits[..., BORDER] = 1.0  # border everywhere, whatever the size
    truth = np.random.default_rng(1).integers(0, 3, (7, 11))
    matrix = metrics.native_confusion_matrix(logits, _trimap(truth))
    assert matrix.sum() == 7 * 11 and matrix[:, BORDER].sum() == 7 * 11
    np.testing.assert_array_equal(matrix[:, BORDER], np.bincount(truth.ravel(), minlength=3))


def test_native_matrix_upsamples_before_the_argmax():
    """A 2x2 prediction blown up to 4x4: resizing the logits, then the argmax, puts the class
    boundary where resizing the predicted classes would not."""
    logits = np.zeros((2, 2, 3), np.float32)
    logits[:, 0, PET] = 1.0  # left column pet, right column background
    logits[:, 1, BACKGROUND] = 1.0
    truth = np.array([[0, 0, 1, 1]] * 4)
    matrix = metrics.native_confusion_matrix(logits, _trimap(truth))
    np.testing.assert_array_equal(matrix, [[8, 0, 0], [0, 8, 0], [0, 0, 0]])
    # The right column is background by a little (1.0 against 0.9 pet): resizing its class
    # would make native columns 3 and 4 background; the blended logits keep column 3 pet.
    logits[:, 1, PET] = 0.9
    matrix = metrics.native_confusion_matrix(logits, _trimap(truth))
    np.testing.assert_array_equal(matrix, [[8, 0, 0], [4, 4, 0], [0, 0, 0]])


@pytest.mark.parametrize("logits_shape,trimap_shape", [
    ((8, 8), (13, 21)),  # upsampled, neither side a multiple
    ((16, 16), (9, 5)),  # downsampled
    ((8, 12), (300, 7)),  # many strips
])
def test_native_matrix_equals_tensorflow_resize_then_argmax(logits_shape, trimap_shape):
    """The strips give exactly what resizing the whole logits with tf.image.resize does."""
    import tensorflow as tf

    rng = np.random.default_rng(sum(trimap_shape))
    logits = rng.normal(size=logits_shape + (3,)).astype(np.float32)
    truth = rng.integers(0, 3, trimap_shape)
    whole = tf.image.resize(logits[None], trimap_shape, method="bilinear")[0]
    expected = metrics.confusion_matrix(truth, tf.argmax(whole, axis=-1).numpy())
    for strip_pixels in (1, 64, 10 ** 6):  # one row a strip ... the whole image at once
        np.testing.assert_array_equal(
            metrics.native_confusion_matrix(logits, _trimap(truth), strip_pixels), expected)


@pytest.mark.parametrize("field", ["smooth", "near_ties", "exact_ties"])
def test_native_matrix_shortcut_for_uniform_cells_changes_no_pixel(field):
    """Most source cells of a segmentation have one class winning at all four corners; their
    native pixels take it without interpolating (`_cell_classes`). Against tf.image.resize on
    logits where that shortcut applies almost everywhere, and where classes tie to the last
    bits (which must go pixel by pixel, as ties do in tf.argmax: the first class)."""
    import tensorflow as tf

    rng = np.random.default_rng(7)
    if field == "smooth":  # a prediction's logits: a few large regions
        coarse = (rng.normal(size=(1, 3, 3, 3)) * 20).astype(np.float32)
        logits = tf.image.resize(coarse, (24, 20), method="bicubic")[0].numpy()
    else:
        logits = rng.normal(size=(24, 20, 3)).astype(np.float32)
        logits[..., 1] = (logits[..., 0] + np.float32(1e-7) * logits[..., 0]
                          if field == "near_ties" else logits[..., 0])
    uniform = (metrics._cell_classes(np.moveaxis(logits, -1, 0)) >= 0).mean()
    assert (uniform > 0.8) if field == "smooth" else (uniform < 0.5), uniform
    truth = rng.integers(0, 3, (91, 57))
    whole = tf.image.resize(logits[None], truth.shape, method="bilinear")[0]
    expected = metrics.confusion_matrix(truth, tf.argmax(whole, axis=-1).numpy())
    np.testing.assert_array_equal(metrics.native_confusion_matrix(logits, _trimap(truth)),
                                  expected)


@pytest.mark.parametrize("size", [128, 64, 37])
def test_model_size_labels_are_the_labels_transform_makes(size):
    """`model_size_labels` (numpy, in the Evaluator) against Transform's own graph
    (`preprocessing.decode_masks`) on trimaps of many sizes, down- and upsampled, odd sides and
    the dataset's common ones: every pixel the same."""
    import tensorflow as tf

    from trainer import preprocessing

    rng = np.random.default_rng(size)
    shapes = [(500, 375), (375, 500), (333, 500), (size, size), (size + 1, size - 1), (1, 7),
              (17, 1), (2 * size + 1, 3 * size - 1)] + [
        tuple(int(v) for v in rng.integers(1, 700, 2)) for _ in range(12)]
    encoded, expected_rows = [], []
    for shape in shapes:
        truth = rng.integers(0, 3, shape)
        encoded.append(_png(_trimap(truth)))
        expected_rows.append(truth)
    transformed = preprocessing.decode_masks(tf.constant(encoded), size).numpy()[..., 0]
    for index, (data, shape) in enumerate(zip(encoded, shapes)):
        trimap = metrics.decode_trimap(data)
        labels = metrics.model_size_labels(trimap, size, size)
        np.testing.assert_array_equal(labels, transformed[index], err_msg=str(shape))


def test_the_model_size_matrix_names_a_bad_trimap():
    extracts = _native_extracts(np.full((3, 3), -1), np.zeros((2, 2, 3), np.float32),
                                name=b"pug_8.jpg")
    with pytest.raises(ValueError, match="pug_8.jpg: label class ids must be in"):
        _run(metrics.PixelAccuracy(), [extracts])


def test_native_matrix_refuses_values_outside_the_trimap():
    with pytest.raises(ValueError, match=r"trimap values must be in \[1, 2, 3\], found 0..2"):
        metrics.native_confusion_matrix(np.zeros((2, 2, 3)), np.array([[0, 1], [2, 2]]))


def _png(trimap: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(trimap, "L").save(buffer, "PNG")
    return buffer.getvalue()


def _native_extracts(truth: np.ndarray, logits: np.ndarray, name: bytes = b"cat_1.jpg"):
    """What TFMA hands the native preprocessor: raw features (a one-element bytes array, as
    TFMA decodes tf.Examples) and the model's logits at the model's size."""
    return {tfma.FEATURES_KEY: {features.MASK_KEY: np.array([_png(_trimap(truth))], object),
                                features.FILE_NAME_KEY: np.array([name], object)},
            tfma.LABELS_KEY: np.zeros(logits.shape[:2] + (1,), np.int64),  # not read
            tfma.PREDICTIONS_KEY: {features.LOGITS_KEY: logits}}


def test_tfma_native_metrics_read_the_raw_trimap():
    """Two images of other sizes than the 4x4 logits: every native pixel is counted."""
    rng = np.random.default_rng(2)
    truths = [rng.integers(0, 3, (6, 10)), rng.integers(0, 3, (3, 5))]
    logits = [rng.normal(size=(4, 4, 3)).astype(np.float32) for _ in truths]
    examples = [_native_extracts(t, l) for t, l in zip(truths, logits)]
    expected = sum(metrics.native_confusion_matrix(l, _trimap(t)) for t, l in zip(truths, logits))
    values = _run(metrics.NativePixelConfusionMatrix(), examples)
    np.testing.assert_array_equal(values["native_pixel_confusion_matrix"], expected)
    assert expected.sum() == 6 * 10 + 3 * 5
    assert _run(metrics.NativePixelAccuracy(), examples)["native_pixel_accuracy"] == (
        pytest.approx(metrics.overall_accuracy(expected)))
    assert _run(metrics.NativeMeanIoU(), examples)["native_mean_iou"] == pytest.approx(
        metrics.mean_iou(expected))
    assert _run(metrics.NativeClassIoU(class_index=BORDER), examples)["native_border_iou"] == (
        pytest.approx(metrics.per_class_iou(expected)[BORDER]))
    assert _run(metrics.NativeClassPixelAccuracy(class_index=PET), examples)[
        "native_pet_pixel_accuracy"] == pytest.approx(metrics.per_class_accuracy(expected)[PET])
    assert _run(metrics.ForegroundIoU(), examples)["foreground_iou"] == pytest.approx(
        metrics.foreground_iou(expected))


def test_a_bad_raw_trimap_is_named():
    extracts = _native_extracts(np.full((3, 3), -1), np.zeros((2, 2, 3), np.float32),
                                name=b"pug_7.jpg")
    with pytest.raises(ValueError, match="pug_7.jpg: trimap values must be in"):
        _run(metrics.NativePixelAccuracy(), [extracts])
    del extracts[tfma.FEATURES_KEY][features.MASK_KEY]
    with pytest.raises(ValueError, match="raw example's trimap"):
        _run(metrics.NativePixelAccuracy(), [extracts])
