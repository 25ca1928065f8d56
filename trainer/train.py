"""The TFX Trainer entry point (`run_fn`): input pipeline, training, export.

Hyperparameters come from the pipeline config through the Trainer's `custom_config`
(trainer/settings.py `TrainerSettings`); nothing here reads flags or environment. Besides the
SavedModel, run_fn writes into the model_run directory Keras' per-epoch history and where its
time went (`TIMINGS_FILE`, read by bench/pipeline_bench.py).
"""

import functools
import json
import logging
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from trainer import (code_version, example_cache, export, features, models, preprocessing,
                     short_errors, xla_fallback)
from trainer.settings import TrainerSettings

# Written into model_run: seconds per phase of run_fn (setup, each epoch's training and
# validation, the XLA check, export), as JSON.
TIMINGS_FILE = "trainer_timings.json"


def distribution_strategy() -> tf.distribute.Strategy:
    """All visible GPUs (MirroredStrategy) when there are any, else the default CPU strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        logging.info("Training on %d GPU(s): %s", len(gpus), [gpu.name for gpu in gpus])
        return tf.distribute.MirroredStrategy()
    logging.info("No GPU visible: training on the CPU")
    return tf.distribute.get_strategy()


def random_flip(image: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor):
    """Flips image [H, W, 3] and mask [H, W, 1] left-right together, half of the time.

    Stateless and seeded per element, so a rerun sees the same augmentation.
    """
    flip = tf.random.stateless_uniform([], seed=seed) < 0.5
    image = tf.cond(flip, lambda: tf.image.flip_left_right(image), lambda: image)
    mask = tf.cond(flip, lambda: tf.image.flip_left_right(mask), lambda: mask)
    return image, mask


def add_sample_weights(image: tf.Tensor, mask: tf.Tensor, class_weights: tf.Tensor):
    """(image, mask) -> (image, mask, per-pixel weights shaped as the mask), as in the TF
    segmentation tutorial: each pixel weighs what its true class weighs."""
    return image, mask, tf.gather(class_weights, mask)


def _records(file_patterns: List[str], tf_transform_output: tft.TFTransformOutput,
             keys: Sequence[str], every_nth: int = 1
             ) -> Tuple[tf.data.Dataset, Dict[str, Any]]:
    """Transformed examples (gzipped TFRecords, in file name order; one in `every_nth`, before
    any parsing) and the spec of `keys`."""
    files = example_cache.record_files(file_patterns)
    if not files:
        raise FileNotFoundError(f"no transformed examples match {file_patterns}")
    spec = {key: value for key, value in tf_transform_output.transformed_feature_spec().items()
            if key in keys}
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP",
                                      num_parallel_reads=tf.data.AUTOTUNE)
    return (dataset.shard(every_nth, 0) if every_nth > 1 else dataset), spec


def analyzed_class_weights(file_patterns: List[str],
                           tf_transform_output: tft.TFTransformOutput) -> Tuple[float, ...]:
    """The class weights Transform's analyzer computed (`class_weights: auto`).

    Every transformed example carries the same vector; this reads the first one.
    """
    dataset, spec = _records(file_patterns, tf_transform_output, [features.CLASS_WEIGHTS_XF])
    if features.CLASS_WEIGHTS_XF not in spec:
        raise ValueError(f"class_weights is '{features.AUTO_CLASS_WEIGHTS}' but the transformed "
                         f"examples have no {features.CLASS_WEIGHTS_XF!r}: Transform must run "
                         f"with the same class_weights setting (custom_config)")
    for record in dataset.take(1):
        weights = tf.io.parse_single_example(record, spec)[features.CLASS_WEIGHTS_XF]
        return tuple(float(weight) for weight in weights.numpy())
    raise ValueError(f"no transformed examples in {file_patterns} to read class weights from")


def resolve_class_weights(spec: Optional[str], train_files: List[str],
                          tf_transform_output: tft.TFTransformOutput
                          ) -> Optional[Tuple[float, ...]]:
    """None, the given weights, or (for "auto") the analyzer's weights, one per class."""
    parsed = features.parse_class_weights(spec)
    if parsed == features.AUTO_CLASS_WEIGHTS:
        return analyzed_class_weights(train_files, tf_transform_output)
    return parsed


def input_fn(file_patterns: List[str], tf_transform_output: tft.TFTransformOutput,
             batch_size: int, shuffle: bool = False, augment: bool = False,
             seed: int = 0, shuffle_buffer: int = 256,
             class_weights: Optional[Sequence[float]] = None,
             cache: Union[bool, str] = False, every_nth: int = 1) -> tf.data.Dataset:
    """Transformed examples (gzipped TFRecords) -> batches of (image [B,S,S,3] float32 in
    [0, 1], mask [B,S,S,1] int64 class ids).

    `cache` keeps the decoded examples after the first epoch as 8-bit pixels and class ids (4
    bytes a pixel: 64 KB an example at 128 px): True in memory, as the tutorial's `.cache()`
    does, a path in tf.data's cache files there (trainer/example_cache.py decides which); later
    epochs skip gunzip and parsing; `preprocessing.normalize` runs per batch, after it.

    With `class_weights` (one per class) the batches are (image, mask, weights [B,S,S,1]):
    Keras weighs each pixel's loss by its true class's weight.

    `every_nth` > 1 keeps one example in every `every_nth` (the 1st, the (n+1)th, ... of the
    files in name order): the same examples every epoch, spread over the whole split.
    """
    dataset, spec = _records(file_patterns, tf_transform_output,
                             [features.IMAGE_XF, features.MASK_XF], every_nth)
    size = spec[features.MASK_XF].shape[0]  # the mask is [S, S, 1]

    def decode(records):  # serialized examples [B] -> uint8 pixels [B,S,S,3], uint8 ids [B,S,S,1]
        example = tf.io.parse_example(records, spec)
        return (preprocessing.unpack_pixels(example[features.IMAGE_XF], size),
                tf.cast(example[features.MASK_XF], tf.uint8))

    dataset = dataset.batch(batch_size).map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.unbatch()
    if cache:  # the decoded examples, kept: later epochs skip gunzip and parsing
        dataset = dataset.cache(cache if isinstance(cache, str) else "")
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if augment:
        dataset = dataset.enumerate().map(
            lambda index, example: random_flip(
                example[0], example[1], tf.stack([tf.constant(seed, tf.int64), index])),
            num_parallel_calls=tf.data.AUTOTUNE)

    def model_inputs(pixels, ids):  # the model's float input and int64 labels
        return preprocessing.normalize(pixels), tf.cast(ids, tf.int64)

    dataset = dataset.batch(batch_size).map(model_inputs, num_parallel_calls=tf.data.AUTOTUNE)
    if class_weights is not None:
        weights = tf.constant(class_weights, tf.float32)
        dataset = dataset.map(lambda image, mask: add_sample_weights(image, mask, weights),
                              num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(WITHOUT_AUTOTUNE_THREAD)


def _without_autotune_thread() -> tf.data.Options:
    """tf.data options with autotuning off. Keras makes a new iterator every epoch, and
    destroying the last one waited, CPU idle, for tf.data's autotuning thread: 0-13 s after an
    epoch and after fit (run_fn on the 2,000-image bench run's examples, 2 epochs: fit's time
    outside its epochs 5.9, 13.3, 9.5 and 24.8 s in four runs, 0.2 s without autotuning;
    py-spy: the main thread in ~LogicalThreadWrapper under ~IteratorResource). The input
    gives about 1,650 images/s from the files and more from the cache with autotuning on or
    off (bench/pipeline_bench.py measures it), far above a training step's 35."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


WITHOUT_AUTOTUNE_THREAD = _without_autotune_thread()


# In-epoch progress goes to this logger, only when a handler listens: cli/console.py
# attaches one (drawing a bar) when the runner's stdout is a terminal. Nothing is logged
# otherwise, so logs and Cloud Logging keep one line per epoch.
PROGRESS_LOGGER = "petseg.progress"
PROGRESS_SECONDS = 0.5  # at most two updates a second
SAMPLE_IMAGES = 3  # validation examples drawn in TensorBoard each epoch
_progress = logging.getLogger(PROGRESS_LOGGER)


def progress_text(epoch: int, epochs: int, phase: str, done: int, total: Optional[int],
                  seconds: float, width: int = 24) -> str:
    """`[Trainer] epoch 2/10 train [#####-------] 37/120 batches, 12 s, ~27 s left`; without a
    known total (the first epoch of a dataset of unknown length) the count and time only."""
    head = f"[Trainer] epoch {epoch}/{epochs} {phase}"
    if not total:
        return f"{head}: {done} batches, {seconds:.0f} s"
    share = min(1.0, done / total)
    filled = int(round(share * width))
    left = seconds / done * (total - done) if done else 0.0
    return (f"{head} [{'#' * filled}{'-' * (width - filled)}] {done}/{total} batches, "
            f"{seconds:.0f} s, ~{left:.0f} s left")


class _LearningRate(keras.callbacks.Callback):
    """Adds the optimizer's learning rate to each epoch's logs, for the callbacks after it
    (TensorBoard's `epoch_learning_rate`, the history, the epoch line): tf_keras' TensorBoard
    logs it only for a schedule, and fine-tuning recompiles at another rate."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            rate = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.backend.get_value(rate))


class _SamplePredictions(keras.callbacks.Callback):
    """A few validation examples as TensorBoard images after each epoch: input, true mask and
    predicted mask side by side (classes as the report colours them), in `<model_run>/samples`
    (the 'Images' tab). The first batch of `eval_data`, at most SAMPLE_IMAGES examples, taken
    after the first epoch (when a cached dataset is complete: taken earlier, tf.data would
    drop the partial cache)."""

    def __init__(self, eval_data: tf.data.Dataset, log_dir: str):
        super().__init__()
        self._eval_data = eval_data
        self._log_dir = log_dir
        self._batch = None
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if self._batch is None:
            self._batch = next(iter(self._eval_data.take(1)), None)
        if self._batch is None:
            return
        images, masks = self._batch[0][:SAMPLE_IMAGES], self._batch[1][:SAMPLE_IMAGES]
        predicted = tf.argmax(self.model(images, training=False), axis=-1)
        palette = tf.constant(features.CLASS_COLOURS, tf.float32) / 255.0
        row = tf.concat([tf.cast(images, tf.float32),
                         tf.gather(palette, tf.cast(masks[..., 0], tf.int32)),
                         tf.gather(palette, tf.cast(predicted, tf.int32))], axis=2)
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self._log_dir, "samples"))
        with self._writer.as_default():
            tf.summary.image("validation: input | true mask | predicted mask", row,
                             step=epoch, max_outputs=SAMPLE_IMAGES)
        self._writer.flush()


class _EpochLog(keras.callbacks.Callback):
    """One readable progress line per epoch in the Trainer's log, with where its time went:
    `[Trainer] epoch 2/10 (train 51.2 s, validation 17.9 s): accuracy 0.9012, ...`; and, when
    someone listens on PROGRESS_LOGGER, a progress text within the epoch (train, then
    validation batches; the totals are known from the first epoch on)."""

    def __init__(self, epochs: int):
        super().__init__()
        self._supports_tf_logs = True  # the batch hooks read no values: no sync per batch
        self._epochs = epochs
        self._epoch = 0
        self._epoch_start = self._validation_start = self._phase_start = 0.0
        self._validation_seconds = 0.0
        self._shown_at = 0.0
        self._batches = {"train": 0, "validation": 0}
        self._totals: Dict[str, Optional[int]] = {"train": None, "validation": None}
        self.records: List[Dict[str, float]] = []  # per epoch: its number and seconds

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_start, self._validation_seconds = time.perf_counter(), 0.0
        self._phase_start = self._epoch_start
        steps = (getattr(self, "params", None) or {}).get("steps")  # None: unknown length
        self._totals["train"] = steps or self._totals["train"]

    def on_test_begin(self, logs=None):
        self._validation_start = self._phase_start = time.perf_counter()

    def on_test_end(self, logs=None):
        self._validation_seconds += time.perf_counter() - self._validation_start

    def on_train_batch_end(self, batch, logs=None):
        self._batch_done("train", batch)

    def on_test_batch_end(self, batch, logs=None):
        self._batch_done("validation", batch)

    def _batch_done(self, phase: str, batch: int) -> None:
        self._batches[phase] = batch + 1
        if not _progress.handlers:
            return
        now = time.perf_counter()
        if now - self._shown_at < PROGRESS_SECONDS:
            return
        self._shown_at = now
        _progress.info(progress_text(self._epoch + 1, self._epochs, phase, batch + 1,
                                     self._totals[phase], now - self._phase_start))

    def on_epoch_end(self, epoch, logs=None):
        total = time.perf_counter() - self._epoch_start
        validated = self._batches["validation"]  # 0 after an epoch that did not validate
        for phase, count in self._batches.items():  # an epoch's length, for the next bars
            self._totals[phase] = count or self._totals[phase]
            self._batches[phase] = 0
        shown = ", ".join(f"{key} {value:.4f}" for key, value in sorted((logs or {}).items()))
        timing = (f"train {total - self._validation_seconds:.1f} s, "
                  f"validation {self._validation_seconds:.1f} s")
        self.records.append({"epoch": epoch + 1, "train_seconds": total - self._validation_seconds,
                             "validation_seconds": self._validation_seconds,
                             "validation_batches": validated})
        logging.info("epoch %d/%d (%s): %s", epoch + 1, self._epochs, timing, shown)
        print(f"[Trainer] epoch {epoch + 1}/{self._epochs} ({timing}): {shown}", flush=True)


def warm_start(model: keras.Model, base_model_dir: str) -> Dict[str, Any]:
    """Loads the weights of the SavedModel in `base_model_dir` (trainer/export.py keeps them in
    `model_variables`, in `model.variables` order) into `model`.

    Returns what happened, for model_info.json: loaded, or not and why (another architecture or
    shape: the model then trains from scratch). The optimizer starts afresh.
    """
    record: Dict[str, Any] = {"base_model": base_model_dir, "loaded": False}
    source = list(tf.saved_model.load(base_model_dir).model_variables)
    target = list(model.variables)
    shapes = [(tuple(s.shape), tuple(t.shape)) for s, t in zip(source, target)]
    if len(source) != len(target) or any(a != b for a, b in shapes):
        record["reason"] = (f"the base model's weights do not fit this model ({len(source)} "
                            f"variables against {len(target)}, or other shapes): another "
                            f"architecture or setting; training from scratch")
        return record
    for variable, value in zip(target, source):
        variable.assign(value)
    record["loaded"] = True
    return record


# The history's per-epoch phase number: 1 the first phase, 2 fine-tuning.
PHASE_KEY = "phase"


def fine_tune_plan(model: keras.Model, settings: TrainerSettings) -> Optional[Dict[str, Any]]:
    """None when no fine-tuning was asked for; else what will happen, for model_info.json:
    {"epochs", "learning_rate", "ran"} and, when it does not run, "reason"."""
    if not settings.fine_tune_epochs:
        return None
    learning_rate = settings.fine_tune_learning_rate or settings.learning_rate / 10
    blocker = models.fine_tune_blocker(model)
    plan = {"epochs": int(settings.fine_tune_epochs), "learning_rate": float(learning_rate),
            "ran": blocker is None}
    if blocker:
        plan["reason"] = blocker
    return plan


def validation_epochs(first: int, last: int, every: int) -> List[int]:
    """The epochs (1-based, `first`..`last`) after which to validate: every `every`-th one
    and the last."""
    return [epoch for epoch in range(first, last + 1) if epoch % every == 0 or epoch == last]


def fit_phases(model: keras.Model, train_data: tf.data.Dataset, eval_data: tf.data.Dataset,
               epochs: int, learning_rate: float, fine_tune: Optional[Dict[str, Any]],
               callbacks: Sequence[keras.callbacks.Callback],
               strategy: Optional[tf.distribute.Strategy] = None, validation_freq: int = 1
               ) -> Tuple[Dict[str, List[Optional[float]]], List[Dict[str, Any]]]:
    """Trains `epochs`, then (when `fine_tune` says it runs) its epochs more with the encoder
    unfrozen, epoch numbers continuing, validating after every `validation_freq`-th epoch and
    the last of each phase. Returns the per-epoch history of both phases (with PHASE_KEY;
    validation values None after the epochs that did not validate) and one record per phase
    for model_info.json."""
    strategy = strategy or tf.distribute.get_strategy()
    phases: List[Dict[str, Any]] = []
    history: Dict[str, List[Optional[float]]] = {}
    steps = [(epochs, learning_rate, "train")]
    if fine_tune and fine_tune["ran"]:
        steps.append((fine_tune["epochs"], fine_tune["learning_rate"], "fine-tune"))
    done = 0
    for number, (count, rate, name) in enumerate(steps, start=1):
        if name == "fine-tune":
            with strategy.scope():
                models.start_fine_tuning(model, rate)
            print(f"[Trainer] fine-tuning {count} epochs at learning rate {rate:g}: the encoder "
                  f"unfrozen, its BatchNorm layers in inference mode; "
                  f"{models.count_parameters(model.trainable_weights):,} trainable parameters",
                  flush=True)
        phases.append({"phase": name, "epochs": int(count), "first_epoch": done + 1,
                       "learning_rate": float(rate), "encoder": models.encoder_state(model),
                       "trainable_parameters": models.count_parameters(model.trainable_weights)})
        validated = validation_epochs(done + 1, done + count, validation_freq)
        fitted = model.fit(train_data, validation_data=eval_data, initial_epoch=done,
                           epochs=done + count, verbose=0, callbacks=list(callbacks),
                           validation_freq=validated)
        for key, values in fitted.history.items():
            if key.startswith("val_"):  # one value per validated epoch: aligned to epochs
                by_epoch = dict(zip(validated, values))
                values = [by_epoch.get(epoch) for epoch in range(done + 1, done + count + 1)]
            history.setdefault(key, []).extend(None if v is None else float(v) for v in values)
        history.setdefault(PHASE_KEY, []).extend([float(number)] * count)
        done += count
    return history, phases


def write_json(value: Dict[str, Any], directory: str, name: str) -> str:
    """Writes `value` as JSON file `name` into `directory` (any tf.io.gfile path)."""
    tf.io.gfile.makedirs(directory)
    path = os.path.join(directory, name)
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(value, indent=1, sort_keys=True))
    return path


def write_history(history: Dict[str, List[Optional[float]]], directory: str) -> str:
    """Writes Keras' per-epoch History (loss, val_loss, metrics; with fine-tuning both phases
    and PHASE_KEY; None where an epoch did not validate) as JSON for the report."""
    return write_json({key: [None if value is None else float(value) for value in values]
                       for key, values in history.items()}, directory,
                      features.TRAINING_HISTORY_FILE)


def _shortened_errors(run):
    """Re-raises an error with a long message (TensorFlow's graph errors embed stack frames
    and, for a label out of range, every label of the batch: over 100 KB) with its first lines
    only, as the same kind of error; the whole message and its traceback go to the log first.
    TFX records, and a runner or Vertex AI shows, the short one."""

    @functools.wraps(run)
    def wrapper(fn_args):
        try:
            return run(fn_args)
        except Exception as error:  # noqa: BLE001 - re-raised, shortened or as it was
            if not short_errors.is_long(str(error)):
                raise
            logging.exception("[Trainer] %s, the whole message (shortened when re-raised):",
                              type(error).__name__)
            text = short_errors.shorten(str(error),
                                        note="the whole message is in the Trainer's log")
            if isinstance(error, tf.errors.OpError):
                shorter = type(error)(error.node_def, error.op, text)
            else:
                shorter = short_errors.same_kind(error, text) or RuntimeError(
                    f"{type(error).__name__}: {text}")
            raise shorter from None
    return wrapper


def build(settings: TrainerSettings, strategy: tf.distribute.Strategy) -> keras.Model:
    """The compiled model, GPU options resolved ("auto": on iff a GPU is visible)."""
    with strategy.scope():
        return models.build_model(
            settings, mixed_precision=models.resolve_auto(settings.mixed_precision),
            xla=settings.xla_wanted(models.gpu_visible()))


def start_from(model: keras.Model, settings: TrainerSettings,
               base_model: Optional[str]) -> Tuple[int, Optional[Dict[str, Any]]]:
    """Warm start when asked and a blessed model exists: (epochs to train, what happened)."""
    if settings.warm_start and base_model:
        started = warm_start(model, base_model)
        epochs = settings.warm_start_epochs if started["loaded"] else settings.epochs
        print(f"[Trainer] warm start from {started['base_model']}: "
              f"{'loaded' if started['loaded'] else started['reason']}; {epochs} epochs",
              flush=True)
        return epochs, started
    if settings.warm_start:
        print("[Trainer] warm start on, but no earlier blessed model: training from scratch",
              flush=True)
    return settings.epochs, None


def describe(info: Dict[str, Any], fine_tune: Optional[Dict[str, Any]]) -> None:
    """The model's line in the Trainer's log, and why fine-tuning does nothing if it does."""
    logging.info("Model: %s", info)
    print(f"[Trainer] {info['architecture']}: {info['parameters']:,} parameters "
          f"({info['trainable_parameters']:,} trainable), encoder pretrained "
          f"{info['encoder_pretrained']}, class weights {info['class_weights']}", flush=True)
    if fine_tune and not fine_tune["ran"]:
        logging.warning("fine_tune_epochs %d does nothing: %s", fine_tune["epochs"],
                        fine_tune["reason"])
        print(f"[Trainer] --fine-tune-epochs {fine_tune['epochs']} does nothing: "
              f"{fine_tune['reason']}", flush=True)


def checked_settings(fn_args) -> TrainerSettings:
    """The run's settings, once the code running is the code the pipeline was compiled with
    (trainer/code_version.py)."""
    code_version.check(fn_args.custom_config, "Trainer")
    return TrainerSettings.from_custom_config(fn_args.custom_config)


def example_caches(fn_args, settings: TrainerSettings) -> example_cache.CachePlan:
    """Where the decoded examples are kept between epochs (trainer/example_cache.py): logged,
    and shown when not in memory (the default's place)."""
    if not settings.cache_examples:
        return example_cache.CachePlan(False, False, "decoded examples not kept "
                                                     "(cache_examples off)")
    caches = example_cache.plan(fn_args.train_files, fn_args.eval_files, settings.image_size,
                                settings.validation_subsplits)
    logging.info("Example cache: %s", caches.line)
    if caches.train is not True:
        print(f"[Trainer] {caches.line}", flush=True)
    return caches


@_shortened_errors
def run_fn(fn_args) -> None:
    """TFX Trainer entry point."""
    clock = {"start": time.perf_counter()}
    settings = checked_settings(fn_args)
    keras.utils.set_random_seed(settings.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    strategy = distribution_strategy()
    batch_size = settings.batch_size * strategy.num_replicas_in_sync

    # Class weights weigh the training loss only; validation loss stays plain cross-entropy.
    class_weights = resolve_class_weights(settings.class_weights, fn_args.train_files,
                                          tf_transform_output)
    caches = example_caches(fn_args, settings)
    train_data = input_fn(fn_args.train_files, tf_transform_output, batch_size, shuffle=True,
                          augment=True, seed=settings.seed,
                          shuffle_buffer=settings.shuffle_buffer, class_weights=class_weights,
                          cache=caches.train)
    eval_data = input_fn(fn_args.eval_files, tf_transform_output, batch_size, cache=caches.eval,
                         every_nth=settings.validation_subsplits)
    model = build(settings, strategy)
    epochs, started = start_from(model, settings, fn_args.base_model)
    fine_tune = fine_tune_plan(model, settings)
    info = models.model_info(model, settings.image_size, class_weights)
    info.update(warm_start=started, epochs=epochs, fine_tune=fine_tune,
                validation={"every_nth_epoch": settings.validation_freq,
                            "every_nth_example": settings.validation_subsplits})
    describe(info, fine_tune)
    clock["xla"] = time.perf_counter()
    info["xla"] = xla_fallback.compile_or_fall_back(model, train_data, eval_data)

    total = epochs + (fine_tune["epochs"] if fine_tune and fine_tune["ran"] else 0)
    log = _EpochLog(total)
    clock["fit"] = time.perf_counter()
    history, info["phases"] = fit_phases(
        model, train_data, eval_data, epochs, settings.learning_rate, fine_tune,
        callbacks=[_LearningRate(),  # first: the others see it
                   keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir,
                                               update_freq="epoch"),
                   _SamplePredictions(eval_data, fn_args.model_run_dir), log],
        strategy=strategy, validation_freq=settings.validation_freq)
    caches.remove()
    write_history(history, fn_args.model_run_dir)
    clock["export"] = time.perf_counter()
    export.save_model(model, tf_transform_output, fn_args.serving_model_dir)
    models.write_model_info(info, fn_args.serving_model_dir)  # read by the pusher and reports
    clock["end"] = time.perf_counter()
    print(f"[Trainer] exported the SavedModel in {clock['end'] - clock['export']:.1f} s: "
          f"{fn_args.serving_model_dir}", flush=True)
    write_json(timings(clock, log.records), fn_args.model_run_dir, TIMINGS_FILE)


def timings(clock: Dict[str, float], epochs: List[Dict[str, float]]) -> Dict[str, Any]:
    """Where run_fn's time went, from its clock readings and the per-epoch records."""
    trained = sum(epoch["train_seconds"] for epoch in epochs)
    validated = sum(epoch["validation_seconds"] for epoch in epochs)
    return {
        "setup_seconds": clock["xla"] - clock["start"],  # settings, input, model, warm start
        "xla_check_seconds": clock["fit"] - clock["xla"],
        "epochs": epochs, "train_seconds": trained, "validation_seconds": validated,
        # fit's own time outside its epochs (callbacks' set-up and teardown), and history
        "fit_other_seconds": clock["export"] - clock["fit"] - trained - validated,
        "export_seconds": clock["end"] - clock["export"],
        "run_fn_seconds": clock["end"] - clock["start"]}
