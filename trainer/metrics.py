"""Per-class pixel metrics for TFMA, at the model's input size and at each image's own size.

TFMA's Keras metric wrappers do not handle per-pixel labels (they flatten per example), so
these are native TFMA metrics. A Preprocessor turns each example into a 3x3 pixel confusion
matrix (only those 9 counts travel through Beam, never masks or logits), a CombineFn sums them
per slice, and derived computations read accuracy and IoU off the sum.

Two matrices, two resolutions:
- at the model's input size (`pixel_accuracy`, `mean_iou`, `<class>_iou`, ...): the label
  Transform makes (the trimap resized to S x S with nearest neighbour), derived here from the
  raw example's trimap (`model_size_labels`, the same pixels as Transform's graph), against the
  argmax of the S x S logits;
- at each image's own size, as native-resolution 3-class results are (`native_pixel_accuracy`,
  `native_mean_iou`, `native_<class>_iou`, ... and the 2-class `foreground_iou`): the logits
  resized bilinearly to the raw example's trimap size (`tf.image.resize`'s half-pixel-centre
  bilinear, on logits), then argmax, against that original trimap. The upsampling runs in strips
  of rows (`native_confusion_matrix`), so memory stays bounded for any image size.

Rows of a confusion matrix are the true class, columns the predicted class, in
`features.CLASS_NAMES` order. Pixel accuracy of a class is its recall (TP / true pixels), the
Oxford-IIIT Pet papers' per-class accuracy; IoU is TP / (TP + FP + FN). Pixels are summed over
the slice's examples before any ratio is taken (so at native size a large image weighs more).

Used by name from the EvalConfig (`module="trainer.metrics"`), so the repository (or the
pipeline image) must be importable where the Evaluator runs.
"""

import json
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.utils import util as tfma_util

from trainer import features

CONFUSION_MATRIX_NAME = features.CONFUSION_MATRIX_NAME
PIXEL_ACCURACY_NAME = features.PIXEL_ACCURACY_NAME
MEAN_IOU_NAME = features.MEAN_IOU_NAME
# Pixels per strip when resizing logits to an image's own size: about 1 M pixels, whose float32
# logits take 12 MB (bench/NATIVE_METRICS.md measures the peak).
STRIP_PIXELS = 1 << 20


# ---- the arithmetic, on plain numpy arrays (unit-tested on hand-made masks) ----

def confusion_matrix(labels: np.ndarray, predicted: np.ndarray,
                     num_classes: int = features.NUM_CLASSES) -> np.ndarray:
    """[C, C] int64 pixel counts; labels and predicted are class-id arrays of one shape."""
    labels = np.asarray(labels).reshape(-1).astype(np.int64, copy=False)
    predicted = np.asarray(predicted).reshape(-1).astype(np.int64, copy=False)
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


def merge_classes(matrix: np.ndarray, groups: Iterable[Iterable[int]]) -> np.ndarray:
    """A [C, C] matrix -> [G, G]: the counts of the classes in each group added up."""
    groups = [list(group) for group in groups]
    matrix = np.asarray(matrix)
    return np.array([[matrix[np.ix_(rows, columns)].sum() for columns in groups]
                     for rows in groups], dtype=np.int64)


FOREGROUND_IDS = tuple(features.CLASS_NAMES.index(name) for name in features.FOREGROUND_CLASSES)
BACKGROUND_IDS = tuple(i for i in range(features.NUM_CLASSES) if i not in FOREGROUND_IDS)


def foreground_iou(matrix: np.ndarray) -> float:
    """IoU of foreground (pet and border merged) against background: the 2-class figure."""
    return float(per_class_iou(merge_classes(matrix, [FOREGROUND_IDS, BACKGROUND_IDS]))[0])


def logits_array(prediction: Any) -> np.ndarray:
    """The logits (or probabilities) [..., C] of a model output, or of a dict holding them."""
    if isinstance(prediction, dict):
        if features.LOGITS_KEY in prediction:
            prediction = prediction[features.LOGITS_KEY]
        elif len(prediction) == 1:
            prediction = next(iter(prediction.values()))
        else:
            raise ValueError(f"cannot tell which model output holds the logits: "
                             f"{sorted(prediction)}")
    return np.asarray(prediction)


def predicted_classes(prediction: Any) -> np.ndarray:
    """Class ids from a model output: logits/probabilities [..., C], or a dict holding them."""
    return np.argmax(logits_array(prediction), axis=-1)


def bilinear_taps(out_size: int, in_size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of `out_size` output positions: the lower and upper input index and the upper
    one's weight, as TensorFlow's bilinear resize computes them (half-pixel centres, no
    antialiasing: `tf.image.resize(method="bilinear")`), in float32 as it does."""
    scale = np.float32(in_size) / np.float32(out_size)
    position = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    floor = np.floor(position)
    lower = np.maximum(floor.astype(np.int64), 0)
    upper = np.minimum(np.ceil(position).astype(np.int64), in_size - 1)
    return lower, upper, (position - floor).astype(np.float32)


def nearest_indices(out_size: int, in_size: int) -> np.ndarray:
    """For each of `out_size` output positions, the input index that nearest-neighbour resizing
    copies, as TensorFlow computes it (half-pixel centres, float32:
    `tf.image.resize(method="nearest")`)."""
    scale = np.float32(in_size) / np.float32(out_size)
    position = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale
    return np.minimum(np.floor(position).astype(np.int64), in_size - 1)


def model_size_labels(trimap: np.ndarray, height: int, width: int) -> np.ndarray:
    """Trimap values [H, W] -> int64 class ids [height, width]: the label Transform makes
    (`preprocessing.decode_masks`: nearest-neighbour resize, values 1/2/3 as classes 0/1/2),
    without running Transform's graph."""
    rows = nearest_indices(height, trimap.shape[0])
    columns = nearest_indices(width, trimap.shape[1])
    return trimap[rows[:, None], columns[None, :]].astype(np.int64) - features.TRIMAP_VALUES[0]


def _argmax_first(planes: np.ndarray) -> np.ndarray:
    """argmax over axis 0 of [C, ...] (the first maximum on ties, as np.argmax), one
    comparison per class instead of a strided reduction."""
    best, ids = planes[0], np.zeros(planes.shape[1:], np.uint8)
    for index in range(1, planes.shape[0]):
        better = planes[index] > best
        ids[better] = index
        best = np.where(better, planes[index], best)
    return ids


# A source cell's class is taken as the resized pixels' class only when it wins at all four
# corners by more than this share of the largest |logit|: bilinear weights are non-negative and
# sum to 1, so in exact arithmetic it wins inside the cell by at least that margin, and the two
# float32 lerps erred by at most 3.0e-7 of the largest corner (5 M random interpolations at
# scales 1e-3..1e4, against float64), so a difference of two classes errs by under 6e-7.
UNIFORM_MARGIN = 1e-5


def _cell_classes(planes: np.ndarray) -> np.ndarray:
    """[h, w] int8: for each source cell (rows r and min(r + 1, h - 1), columns s and
    min(s + 1, w - 1) of `planes` [C, h, w]), the class that wins at its four corners by more
    than UNIFORM_MARGIN of the largest |logit|, or -1 (computed pixel by pixel)."""
    winner = _argmax_first(planes)
    best, second = planes[0], np.full(planes.shape[1:], -np.inf, planes.dtype)
    for index in range(1, planes.shape[0]):  # the runner-up: the best of the others
        best = np.maximum(best, planes[index])
    for index in range(planes.shape[0]):
        second = np.maximum(second, np.where(winner == index, -np.inf, planes[index]))
    winner = np.pad(winner, ((0, 1), (0, 1)), mode="edge")
    margin = np.pad(best - second, ((0, 1), (0, 1)), mode="edge")
    corner = winner[:-1, :-1]
    same = ((winner[1:, :-1] == corner) & (winner[:-1, 1:] == corner)
            & (winner[1:, 1:] == corner))
    least = np.minimum(np.minimum(margin[:-1, :-1], margin[1:, :-1]),
                       np.minimum(margin[:-1, 1:], margin[1:, 1:]))
    uniform = same & (least > UNIFORM_MARGIN * np.abs(planes).max(initial=0.0))
    return np.where(uniform, corner, -1).astype(np.int8)


def native_confusion_matrix(logits: np.ndarray, trimap: np.ndarray,
                            strip_pixels: int = STRIP_PIXELS) -> np.ndarray:
    """[C, C] pixel counts at the trimap's own size.

    `logits` [h, w, C] (the model's output for one image), `trimap` [H, W] the original
    annotation's values (1 pet, 2 background, 3 border). The logits are resized bilinearly to
    H x W (as `tf.image.resize` does: columns, then rows), then argmax. A pixel inside a source
    cell whose class wins at all its corners by a margin takes that class (`_cell_classes`:
    most pixels of a segmentation); the others are interpolated one by one. Rows go in strips
    of about `strip_pixels` pixels, each counted and dropped, so memory stays O(strip).
    """
    logits = np.asarray(logits, dtype=np.float32)
    trimap = np.asarray(trimap)
    if logits.ndim != 3 or trimap.ndim != 2:
        raise ValueError(f"need logits [h, w, C] and a trimap [H, W], got shapes "
                         f"{logits.shape} and {trimap.shape}")
    height, width = trimap.shape
    num_classes = logits.shape[-1]
    planes = np.moveaxis(logits, -1, 0)  # [C, h, w]
    x_low, x_high, x_weight = bilinear_taps(width, logits.shape[1])
    y_low, y_high, y_weight = bilinear_taps(height, logits.shape[0])

    def columns(source_rows, native_columns):  # [C, n]: interpolated along the row
        left = planes[:, source_rows, x_low[native_columns]]
        right = planes[:, source_rows, x_high[native_columns]]
        return left + (right - left) * x_weight[native_columns]

    cells = _cell_classes(planes)[:, x_low]  # [h, W]: each native column's source cell
    first = features.TRIMAP_VALUES[0]
    counts = np.zeros(num_classes * num_classes, np.int64)
    rows = max(1, strip_pixels // max(width, 1))
    for start in range(0, height, rows):
        stop = min(height, start + rows)
        predicted = cells[y_low[start:stop]]  # [rows, W], -1 where not uniform
        row, column = np.nonzero(predicted < 0)
        if row.size:
            top = columns(y_low[start + row], column)
            values = top + (columns(y_high[start + row], column) - top) * y_weight[start + row]
            predicted[row, column] = _argmax_first(values)
        labels = trimap[start:stop].astype(np.int64) - first
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(f"trimap values must be in {list(features.TRIMAP_VALUES)}, found "
                             f"{int(labels.min()) + first}..{int(labels.max()) + first}")
        labels *= num_classes
        labels += predicted
        counts += np.bincount(labels.ravel(), minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def decode_trimap(encoded: bytes) -> np.ndarray:
    """Encoded trimap PNG -> uint8 [H, W] trimap values, decoded as Transform decodes it
    (`tf.io.decode_png`, one channel), so both resolutions read the same annotation."""
    import tensorflow as tf

    return tf.io.decode_png(encoded, channels=1).numpy()[..., 0]


# ---- TFMA plumbing ----

def _model_outputs(extracts: tfma.Extracts, model_name: str, output_name: str):
    """(labels, predictions, the raw features) of one example for one model and output."""
    extracts = tfma_util.StandardExtracts(extracts)
    labels = extracts.get_labels(model_name)
    predictions = extracts.get_predictions(model_name)
    if output_name:
        labels = labels[output_name] if labels is not None else None
        predictions = predictions[output_name] if predictions is not None else None
    return labels, predictions, extracts.get_features()


def _single_bytes(value: Any) -> Optional[bytes]:
    """A bytes feature as TFMA gives it (bytes, or an array or list holding one) -> bytes."""
    if value is None or isinstance(value, bytes):
        return value
    values = np.asarray(value, dtype=object).reshape(-1)
    return values[0] if values.size == 1 else None


def _example_name(raw: Optional[Dict[str, Any]]) -> str:
    name = _single_bytes((raw or {}).get(features.FILE_NAME_KEY))
    return name.decode("utf-8", "replace") if name else "an eval example"


# The last trimap decoded, as one (bytes, array) tuple: both resolutions' preprocessors read
# the same example's trimap one after the other, so it is decoded once. Replaced whole, never
# changed in place: a Beam worker's threads (Dataflow runs several in one process) each read
# one consistent pair.
_last_trimap: Tuple[Optional[bytes], Optional[np.ndarray]] = (None, None)


def _raw_trimap(raw: Optional[Dict[str, Any]], predictions: Any) -> np.ndarray:
    """The raw example's decoded trimap [H, W] (`features.MASK_KEY`), or a ValueError naming
    what is missing."""
    encoded = _single_bytes((raw or {}).get(features.MASK_KEY))
    if predictions is None or encoded is None:
        raise ValueError(f"pixel metrics need the model's logits and the raw example's trimap "
                         f"({features.MASK_KEY!r}, one PNG) among the Evaluator's features; got "
                         f"features {sorted(raw or {})}")
    global _last_trimap
    last = _last_trimap
    if last[0] is not encoded and last[0] != encoded:
        last = _last_trimap = (encoded, decode_trimap(encoded))
    return last[1]


class _ConfusionPreprocessor(metric_types.Preprocessor):
    """Example extracts -> that example's [C, C] pixel confusion matrix at the model's size:
    the S x S logits' argmax against the trimap resized as Transform resizes it. The label is
    derived here, so the Evaluator does not run the Transform graph (a second decode and
    resize of every image) just to get it."""

    def __init__(self, model_name: str = "", output_name: str = ""):
        super().__init__(name=f"_pixel_confusion_preprocessor:{model_name}:{output_name}")
        self._model_name = model_name
        self._output_name = output_name

    def process(self, extracts: tfma.Extracts) -> Iterator[np.ndarray]:
        _, predictions, raw = _model_outputs(extracts, self._model_name, self._output_name)
        trimap = _raw_trimap(raw, predictions)
        predicted = predicted_classes(predictions)
        try:
            if predicted.ndim != 2:
                raise ValueError(f"need logits [S, S, C], got shape "
                                 f"{logits_array(predictions).shape}")
            yield confusion_matrix(model_size_labels(trimap, *predicted.shape), predicted)
        except ValueError as error:
            raise ValueError(f"{_example_name(raw)}: {error}") from None


class _NativeConfusionPreprocessor(metric_types.Preprocessor):
    """Example extracts -> [C, C] pixel counts at the image's own size: the logits resized to
    the raw example's trimap (`features.MASK_KEY`), against that trimap."""

    def __init__(self, model_name: str = "", output_name: str = ""):
        super().__init__(
            name=f"_native_pixel_confusion_preprocessor:{model_name}:{output_name}")
        self._model_name = model_name
        self._output_name = output_name

    def process(self, extracts: tfma.Extracts) -> Iterator[np.ndarray]:
        _, predictions, raw = _model_outputs(extracts, self._model_name, self._output_name)
        trimap = _raw_trimap(raw, predictions)
        try:
            yield native_confusion_matrix(logits_array(predictions), trimap)
        except ValueError as error:
            raise ValueError(f"{_example_name(raw)}: {error}") from None


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


# Per resolution: the hidden matrix metric's name and the preprocessor that fills it.
_MATRIX = {False: ("_" + CONFUSION_MATRIX_NAME, _ConfusionPreprocessor),
           True: ("_" + features.NATIVE_CONFUSION_MATRIX_NAME, _NativeConfusionPreprocessor)}


def _confusion_key(model_name: str, output_name: str, example_weighted: bool,
                   native: bool = False):
    return metric_types.MetricKey(name=_MATRIX[native][0], model_name=model_name,
                                  output_name=output_name, example_weighted=example_weighted)


def _computations(name: str, derive, model_name: str = "", output_name: str = "",
                  example_weighted: bool = False,
                  native: bool = False) -> metric_types.MetricComputations:
    """The shared confusion-matrix computation of one resolution plus one derived value."""
    matrix_key = _confusion_key(model_name, output_name, example_weighted, native)
    key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                 example_weighted=example_weighted)

    def result(metrics: Dict[metric_types.MetricKey, Any]) -> Dict[metric_types.MetricKey, Any]:
        return {key: derive(metrics[matrix_key])}

    return [
        metric_types.MetricComputation(
            keys=[matrix_key],
            preprocessors=[_MATRIX[native][1](model_name, output_name)],
            combiner=_SumCombiner(matrix_key)),
        metric_types.DerivedMetricComputation(keys=[key], result=result),
    ]


class _PixelMetric(metric_types.Metric):
    """Base: a value derived from the slice's pixel confusion matrix, at the model's input
    size, or (NATIVE) at each image's own size."""

    NATIVE = False

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
                             output_name=output_name, example_weighted=example_weighted,
                             native=self.NATIVE)


class PixelConfusionMatrix(_PixelMetric):
    """The 3x3 matrix of pixel counts itself (rows true class, columns predicted)."""

    def __init__(self, name: str = CONFUSION_MATRIX_NAME):
        super().__init__(name=name)

    def _derive(self, matrix: np.ndarray) -> np.ndarray:
        return matrix


class PixelConfusionCell(_PixelMetric):
    """One cell of the 3x3 pixel confusion matrix, a count: pixels of true class `true_index`
    predicted as `predicted_index`. Nine scalars rather than one array, because TFMA's own
    readers (`tfma.dataframe.metrics_as_dataframes`) fail on array metrics; runs/evaluation.py
    puts the matrix back together."""

    def __init__(self, true_index: int = 0, predicted_index: int = 0,
                 name: Optional[str] = None):
        self._cell = (int(true_index), int(predicted_index))
        super().__init__(
            name=name or features.confusion_cell_name(features.CLASS_NAMES[self._cell[0]],
                                                      features.CLASS_NAMES[self._cell[1]],
                                                      self.NATIVE),
            true_index=self._cell[0], predicted_index=self._cell[1])

    def _create(self, name: str, eval_config=None, model_name: str = "",
                output_name: str = "", example_weighted: bool = False,
                true_index: int = 0, predicted_index: int = 0
                ) -> metric_types.MetricComputations:
        return _computations(name, self._derive, model_name=model_name,
                             output_name=output_name, example_weighted=example_weighted,
                             native=self.NATIVE)

    def _derive(self, matrix: np.ndarray) -> float:
        return float(matrix[self._cell])


class NativePixelConfusionCell(PixelConfusionCell):
    NATIVE = True


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
            name=name or features.class_metric_name(features.CLASS_NAMES[self._class_index],
                                                    self.SUFFIX, self.NATIVE),
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


# ---- the same at each image's own size ----

class NativePixelConfusionMatrix(PixelConfusionMatrix):
    NATIVE = True

    def __init__(self, name: str = features.NATIVE_CONFUSION_MATRIX_NAME):
        super().__init__(name=name)


class NativePixelAccuracy(PixelAccuracy):
    NATIVE = True

    def __init__(self, name: str = features.NATIVE_PIXEL_ACCURACY_NAME):
        super().__init__(name=name)


class NativeMeanIoU(MeanIoU):
    NATIVE = True

    def __init__(self, name: str = features.NATIVE_MEAN_IOU_NAME):
        super().__init__(name=name)


class NativeClassPixelAccuracy(ClassPixelAccuracy):
    """`native_<class>_pixel_accuracy`."""

    NATIVE = True


class NativeClassIoU(ClassIoU):
    """`native_<class>_iou`."""

    NATIVE = True


class ForegroundIoU(_PixelMetric):
    """`foreground_iou`: pet and border merged against background, at each image's own size."""

    NATIVE = True

    def __init__(self, name: str = features.FOREGROUND_IOU_NAME):
        super().__init__(name=name)

    def _derive(self, matrix: np.ndarray) -> float:
        return foreground_iou(matrix)


# (confusion cell, accuracy, mean IoU, per-class accuracy, per-class IoU) at each resolution.
MODEL_SIZE_METRICS = (PixelConfusionCell, PixelAccuracy, MeanIoU, ClassPixelAccuracy, ClassIoU)
NATIVE_METRICS = (NativePixelConfusionCell, NativePixelAccuracy, NativeMeanIoU,
                  NativeClassPixelAccuracy, NativeClassIoU)
# The array metrics earlier runs wrote, registered still so their configs load.
FORMER_METRICS = (PixelConfusionMatrix, NativePixelConfusionMatrix)
for _metric in MODEL_SIZE_METRICS + NATIVE_METRICS + FORMER_METRICS + (ForegroundIoU,):
    metric_types.register_metric(_metric)


def metric_configs(module: str = __name__) -> List[tfma.MetricConfig]:
    """MetricConfigs for every pixel metric at both resolutions, each naming its metric in its
    config (`metric_name` reads it back); no thresholds: the pipeline adds those."""
    configs = [tfma.MetricConfig(class_name="ExampleCount")]

    def add(cls, **kwargs) -> None:
        name = cls(**kwargs).name
        configs.append(tfma.MetricConfig(class_name=cls.__name__, module=module,
                                         config=json.dumps({**kwargs, "name": name})))

    for cell, accuracy, iou, class_accuracy, class_iou in (MODEL_SIZE_METRICS, NATIVE_METRICS):
        for true_index in range(features.NUM_CLASSES):
            for predicted_index in range(features.NUM_CLASSES):
                add(cell, true_index=true_index, predicted_index=predicted_index)
        add(accuracy)
        add(iou)
        for index in range(features.NUM_CLASSES):
            add(class_accuracy, class_index=index)
            add(class_iou, class_index=index)
    add(ForegroundIoU)
    return configs


def metric_name(config: tfma.MetricConfig) -> str:
    """The name of the metric a MetricConfig of `metric_configs` computes."""
    return json.loads(config.config or "{}").get("name") or config.class_name
