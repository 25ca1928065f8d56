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
    logits = np.eye(3)[predicted] * 4.0  # [H, W, 3], argmax == predicted
    return {tfma.LABELS_KEY: truth[..., None], tfma.PREDICTIONS_KEY: logits}


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
    extracts = {tfma.LABELS_KEY: {"candidate": one[tfma.LABELS_KEY],
                                  "baseline": one[tfma.LABELS_KEY]},
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
    expected = {"pixel_confusion_matrix", "pixel_accuracy", "mean_iou"} | {
        f"{name}_{kind}" for name in features.CLASS_NAMES for kind in ("pixel_accuracy", "iou")}
    assert set(names) == expected and len(names) == len(expected)


def test_eval_config_path_builds_one_shared_confusion_computation():
    """TFMA instantiates the metrics by module and class name, and dedups the shared matrix."""
    from tensorflow_model_analysis.metrics import metric_specs

    spec = tfma.MetricsSpec(metrics=metrics.metric_configs())
    eval_config = tfma.EvalConfig(model_specs=[tfma.ModelSpec(label_key=features.MASK_XF)],
                                  metrics_specs=[spec])
    computations = metric_specs.to_computations([spec], eval_config=eval_config)
    derived_names = {key.name for c in computations
                     if isinstance(c, metric_types.DerivedMetricComputation) for key in c.keys}
    assert {"pixel_accuracy", "mean_iou", "pet_iou", "border_pixel_accuracy"} <= derived_names
    matrix_computations = {c for c in computations if isinstance(c, metric_types.MetricComputation)
                           and any(k.name == "_pixel_confusion_matrix" for k in c.keys)}
    assert len(matrix_computations) == 1
