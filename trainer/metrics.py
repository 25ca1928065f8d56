"""Per-class pixel metrics for TFMA: confusion matrix, pixel accuracy, IoU, mean IoU.

TFMA's Keras metric wrappers do not handle per-pixel labels (see ../shared/KNOWLEDGE.md), so
these are native TFMA metrics. A Preprocessor turns each example's mask and logits into a 3x3
pixel confusion matrix (only those 9 counts travel through Beam, never the masks), a CombineFn
sums them per slice, and derived computations read accuracy and IoU off the sum.

Rows of the confusion matrix are the true class, columns the predicted class, in
`features.CLASS_NAMES` order. Pixel accuracy of a class is its recall (TP / true pixels), the
Oxford-IIIT Pet papers' per-class accuracy; IoU is TP / (TP + FP + FN).

Used by name from the EvalConfig (`module="trainer.metrics"`), so the repository (or the
pipeline image) must be importable where the Evaluator runs.
"""

from typing import Any, Dict, Iterable, Iterator, List, Optional

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.utils import util as tfma_util

try:  # in the repository (and in a pipeline image) these modules form the `trainer` package
    from trainer import features
except ImportError:  # in TFX's user-module wheel the same files are top-level modules
    import features

CONFUSION_MATRIX_NAME = features.CONFUSION_MATRIX_NAME
PIXEL_ACCURACY_NAME = features.PIXEL_ACCURACY_NAME
MEAN_IOU_NAME = features.MEAN_IOU_NAME


# ---- the arithmetic, on plain numpy arrays (unit-tested on hand-made masks) ----

def confusion_matrix(labels: np.ndarray, predicted: np.ndarray,
                     num_classes: int = features.NUM_CLASSES) -> np.ndarray:
    """[C, C] int64 pixel counts; labels and predicted are class-id arrays of one shape."""
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    predicted = np.asarray(predicted).reshape(-1).astype(np.int64)
    if labels.shape != predicted.shape:
        raise ValueError(f"{labels.size} label pixels but {predicted.size} predicted pixels")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"label class ids must be in [0, {num_classes}), got "
                         f"{labels.min()}..{labels.max()}")
    counts = np.bincount(labels * num_classes + predicted, minlength=num_classes ** 2)
    return counts.reshape(num_classes, num_classes)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise numerator / denominator, NaN where the denominator is 0 (class absent)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    return _ratio(np.diag(matrix), matrix.sum(axis=1))


def per_class_iou(matrix: np.ndarray) -> np.ndarray:
    true_positive = np.diag(matrix)
    return _ratio(true_positive, matrix.sum(axis=1) + matrix.sum(axis=0) - true_positive)


def overall_accuracy(matrix: np.ndarray) -> float:
    return float(_ratio(np.trace(matrix), matrix.sum()))


def mean_iou(matrix: np.ndarray) -> float:
    """Mean IoU over the classes present in labels or predictions."""
    iou = per_class_iou(matrix)
    return float(np.nanmean(iou)) if not np.all(np.isnan(iou)) else float("nan")


def predicted_classes(prediction: Any) -> np.ndarray:
    """Class ids from a model output: logits/probabilities [..., C], or a dict holding them."""
    if isinstance(prediction, dict):
        if features.LOGITS_KEY in prediction:
            prediction = prediction[features.LOGITS_KEY]
        elif len(prediction) == 1:
            prediction = next(iter(prediction.values()))
        else:
            raise ValueError(f"cannot tell which model output holds the logits: "
                             f"{sorted(prediction)}")
    return np.argmax(np.asarray(prediction), axis=-1)


# ---- TFMA plumbing ----

class _ConfusionPreprocessor(metric_types.Preprocessor):
    """Example extracts -> that example's [C, C] pixel confusion matrix."""

    def __init__(self, model_name: str = "", output_name: str = ""):
        super().__init__(name=f"_pixel_confusion_preprocessor:{model_name}:{output_name}")
        self._model_name = model_name
        self._output_name = output_name

    def process(self, extracts: tfma.Extracts) -> Iterator[np.ndarray]:
        extracts = tfma_util.StandardExtracts(extracts)
        labels = extracts.get_labels(self._model_name)
        predictions = extracts.get_predictions(self._model_name)
        if self._output_name:
            labels = labels[self._output_name]
            predictions = predictions[self._output_name]
        if labels is None or predictions is None:
            raise ValueError("pixel metrics need labels and predictions; set label_key to the "
                             f"transformed mask ({features.MASK_XF!r}) in the ModelSpec")
        predicted = predicted_classes(predictions)
        labels = np.asarray(labels)
        if labels.ndim == predicted.ndim + 1 and labels.shape[-1] == 1:
            labels = labels[..., 0]  # [H, W, 1] -> [H, W]
        if labels.shape != predicted.shape:
            raise ValueError(f"mask shape {labels.shape} does not match prediction shape "
                             f"{predicted.shape}")
        yield confusion_matrix(labels, predicted)


class _SumCombiner(beam.CombineFn):
    """Sums confusion matrices: the one number per slice the other metrics derive from."""

    def __init__(self, key: metric_types.MetricKey):
        self._key = key

    def create_accumulator(self) -> np.ndarray:
        return np.zeros((features.NUM_CLASSES, features.NUM_CLASSES), np.int64)

    def add_input(self, accumulator: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        accumulator += matrix
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[np.ndarray]) -> np.ndarray:
        accumulators = iter(accumulators)
        result = next(accumulators)
        for accumulator in accumulators:
            result = result + accumulator
        return result

    def extract_output(self, accumulator: np.ndarray) -> Dict[metric_types.MetricKey, Any]:
        return {self._key: accumulator}


def _confusion_key(model_name: str, output_name: str, example_weighted: bool):
    return metric_types.MetricKey(name="_" + CONFUSION_MATRIX_NAME, model_name=model_name,
                                  output_name=output_name, example_weighted=example_weighted)


def _computations(name: str, derive, model_name: str = "", output_name: str = "",
                  example_weighted: bool = False) -> metric_types.MetricComputations:
    """The shared confusion-matrix computation plus one derived value named `name`."""
    matrix_key = _confusion_key(model_name, output_name, example_weighted)
    key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                 example_weighted=example_weighted)

    def result(metrics: Dict[metric_types.MetricKey, Any]) -> Dict[metric_types.MetricKey, Any]:
        return {key: derive(metrics[matrix_key])}

    return [
        metric_types.MetricComputation(
            keys=[matrix_key],
            preprocessors=[_ConfusionPreprocessor(model_name, output_name)],
            combiner=_SumCombiner(matrix_key)),
        metric_types.DerivedMetricComputation(keys=[key], result=result),
    ]


class _PixelMetric(metric_types.Metric):
    """Base: a value derived from the slice's pixel confusion matrix."""

    def __init__(self, name: str, **kwargs):
        super().__init__(metric_util.merge_per_key_computations(self._create), name=name,
                         **kwargs)

    def _derive(self, matrix: np.ndarray) -> Any:
        raise NotImplementedError

    # TFMA passes model_name/output_name only to functions that name them as arguments.
    def _create(self, name: str, eval_config=None, model_name: str = "",
                output_name: str = "", example_weighted: bool = False,
                class_index: Optional[int] = None) -> metric_types.MetricComputations:
        return _computations(name, self._derive, model_name=model_name,
                             output_name=output_name, example_weighted=example_weighted)


class PixelConfusionMatrix(_PixelMetric):
    """The 3x3 matrix of pixel counts itself (rows true class, columns predicted)."""

    def __init__(self, name: str = CONFUSION_MATRIX_NAME):
        super().__init__(name=name)

    def _derive(self, matrix: np.ndarray) -> np.ndarray:
        return matrix


class PixelAccuracy(_PixelMetric):
    def __init__(self, name: str = PIXEL_ACCURACY_NAME):
        super().__init__(name=name)

    def _derive(self, matrix: np.ndarray) -> float:
        return overall_accuracy(matrix)


class MeanIoU(_PixelMetric):
    def __init__(self, name: str = MEAN_IOU_NAME):
        super().__init__(name=name)

    def _derive(self, matrix: np.ndarray) -> float:
        return mean_iou(matrix)


class _ClassMetric(_PixelMetric):
    """A per-class value of one class. Not named `class_id`: TFMA would binarize it."""

    SUFFIX = ""

    def __init__(self, class_index: int = 0, name: Optional[str] = None):
        self._class_index = int(class_index)
        super().__init__(
            name=name or f"{features.CLASS_NAMES[self._class_index]}_{self.SUFFIX}",
            class_index=self._class_index)

    @staticmethod
    def _per_class(matrix: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _derive(self, matrix: np.ndarray) -> float:
        return float(self._per_class(matrix)[self._class_index])


class ClassPixelAccuracy(_ClassMetric):
    """Pixel accuracy (recall) of one class: `<class>_pixel_accuracy`."""

    SUFFIX = "pixel_accuracy"
    _per_class = staticmethod(per_class_accuracy)


class ClassIoU(_ClassMetric):
    """IoU of one class: `<class>_iou`."""

    SUFFIX = "iou"
    _per_class = staticmethod(per_class_iou)


for _metric in (PixelConfusionMatrix, PixelAccuracy, MeanIoU, ClassPixelAccuracy, ClassIoU):
    metric_types.register_metric(_metric)


def metric_configs(module: str = __name__) -> List[tfma.MetricConfig]:
    """MetricConfigs for every pixel metric (no thresholds; the pipeline adds those)."""
    import json

    configs = [tfma.MetricConfig(class_name="ExampleCount"),
               tfma.MetricConfig(class_name=PixelConfusionMatrix.__name__, module=module),
               tfma.MetricConfig(class_name=PixelAccuracy.__name__, module=module),
               tfma.MetricConfig(class_name=MeanIoU.__name__, module=module)]
    for index in range(features.NUM_CLASSES):
        for cls in (ClassPixelAccuracy, ClassIoU):
            configs.append(tfma.MetricConfig(class_name=cls.__name__, module=module,
                                             config=json.dumps({"class_index": index})))
    return configs
