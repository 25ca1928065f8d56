"""Where the time goes: the whole pipeline against what a user would run instead.

One command generates datasets in the real layout, runs every stage in its own process (so each
stage's wall time and peak RSS are its own), and writes BENCHMARKS.md (bench/pipeline_figures.py
computes the figures and renders them). Stages, per dataset size:

  ingest     the ExampleGen's Beam job vs a plain loop (bench/ingest_bench.py's functions)
  pipeline   `local_runner.py` end to end, fresh pipeline root; per-component wall time from
             the metadata store, per-component peak RSS sampled every 0.2 s (psutil), the
             Trainer's own timings (model_run/trainer_timings.json)
  seed       the seed flow: the TF segmentation tutorial's code as a user would run it
             (bench/seed_flow.py), the whole process timed from its start
  plain      the tuned plain script: the project's model builder and tf.data input, no
             pipeline: read, decode, resize, .cache(), model.fit validating after every epoch,
             model.evaluate: the floor of doing the same work without TFX
  transform  preprocessing_fn's decode + resize in plain tf.data over the ingested records
  train      the Trainer's input_fn alone (all cores, and one thread), then model.fit steps fed
             by input_fn, by in-memory tensors and by the tutorial's .cache() pipeline, taking
             turns epoch by epoch; rates are the median step's
  serving    the pushed SavedModel's serving_default on JPEG bytes vs model.predict

Sizes: --memory-count (500, memory growth), --count (2,000: every stage), and the full
dataset's shape (--full-count 7,349 images, trainval 3,680 / test 3,669, sides 375-500 px, about
100 KB a JPEG: pipeline, seed and plain only), whose 2 measured epochs are projected to
--project-epochs (20).

    ENV=$(bash scripts/ensure_env.sh)
    $ENV/bin/python bench/pipeline_bench.py                      # the full benchmark
    $ENV/bin/python bench/pipeline_bench.py --count 100 --memory-count 0 --full-count 0 \\
        --image-size 64 --min-size 120 --max-size 200 --out /tmp/B.md  # a quick check
    $ENV/bin/python bench/pipeline_bench.py --report              # only rewrite BENCHMARKS.md

Nothing happens on import: paths and environment are set in main().
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

STAGES = ("ingest", "pipeline", "seed", "plain", "transform", "train", "serving")
FULL_STAGES = ("pipeline", "seed", "plain")  # at the full dataset's shape
# The full dataset's shape: the official lists' sizes (trainval.txt 3,680, test.txt 3,669); sides
# drawn so that the mean pixel count is the real files' (about 500 x 375); JPEG quality for
# about 100 KB a file.
FULL_COUNT, FULL_TRAIN = 7349, 3680
FULL_MIN_SIZE, FULL_MAX_SIZE, FULL_QUALITY = 375, 500, 96


# ---------------------------------------------------------------- helpers shared by stages

def median_rate(step_seconds: List[float], images_per_step: List[int]) -> float:
    """Images per second of a typical full step: the batch over the median full step's time.

    A mean over the steps takes in every stall the machine had meanwhile (a burst of CPU
    steal, another process); the median of a few hundred steps does not.
    """
    full = max(images_per_step)
    times = [t for t, n in zip(step_seconds, images_per_step) if n == full]
    return full / statistics.median(times) if times else float("nan")


def percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def split_entries(data_dir: str, split: str):
    from oxford_pet import layout

    return layout.plan_split(data_dir, split).entries


def tutorial_dataset(data_dir: str, split: str, size: int):
    """The tutorial's input: decoded files -> resize -> normalize, as (image, mask) pairs."""
    import tensorflow as tf

    from oxford_pet import layout

    entries = split_entries(data_dir, split)
    images = [layout.image_path(data_dir, e.name) for e in entries]
    trimaps = [layout.trimap_path(data_dir, e.name) for e in entries]

    def load(image_file, trimap_file):
        image = tf.io.decode_jpeg(tf.io.read_file(image_file), channels=3)
        image = tf.image.resize(image, [size, size]) / 255.0
        mask = tf.io.decode_png(tf.io.read_file(trimap_file), channels=1)
        mask = tf.image.resize(mask, [size, size], method="nearest") - 1
        return image, tf.cast(mask, tf.int64)

    return tf.data.Dataset.from_tensor_slices((images, trimaps)).map(
        load, num_parallel_calls=tf.data.AUTOTUNE), len(entries)


def trainer_settings(params: Dict[str, Any]):
    """The TrainerSettings every stage builds its model with (the pipeline's, from flags)."""
    from trainer.settings import TrainerSettings

    return TrainerSettings(architecture=params["architecture"], image_size=params["image_size"],
                           epochs=params["epochs"], batch_size=params["batch_size"],
                           encoder_weights="none", train_encoder=params["train_encoder"])


def build_model(params: Dict[str, Any]):
    import tf_keras as keras

    from trainer import models

    keras.utils.set_random_seed(0)
    return models.build_model(trainer_settings(params))


def one_thread():
    """tf.data options that run a pipeline, and the ops inside its functions, on one thread."""
    import tensorflow as tf

    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.threading.max_intra_op_parallelism = 1
    return options


class StepTimer:
    """A Keras callback recording each training step's wall time and batch size."""

    def __init__(self, batch_size: int, total: int):
        import tf_keras as keras

        timer = self

        class _Callback(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                timer._start = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                timer.seconds.append(time.perf_counter() - timer._start)
                timer.images.append(max(0, min(batch_size, total - batch * batch_size)))

        self.callback = _Callback()
        self.seconds: List[float] = []
        self.images: List[int] = []
        self._start = 0.0


def epoch_timer():
    """bench/epoch_timer.py's callback for the project's Keras (tf_keras)."""
    import tf_keras as keras
    from epoch_timer import epoch_timer as timer_for

    return timer_for(keras.callbacks.Callback)


def pipeline_name() -> str:
    """The name local_runner.py runs the pipeline under (its default, which the stage keeps)."""
    from pipeline.config import PipelineConfig

    return PipelineConfig.__dataclass_fields__["pipeline_name"].default


def pipeline_outputs(work_dir: str) -> Dict[str, Any]:
    """Artifact locations of the pipeline stage's run, from its metadata store."""
    from pipeline import node_ids, run_summary
    from pipeline.config import METADATA_FILE

    summary = run_summary.summarize(os.path.join(work_dir, "pipeline_root", METADATA_FILE),
                                    pipeline_name())
    return {
        "raw_examples": summary.output(node_ids.EXAMPLE_GEN, "examples").uri,
        "transformed_examples": summary.output(node_ids.TRANSFORM, "transformed_examples").uri,
        "transform_graph": summary.output(node_ids.TRANSFORM, "transform_graph").uri,
        "model_run": summary.output(node_ids.TRAINER, "model_run").uri,
        "evaluation": summary.evaluation_uri,
        "pushed_model": summary.pushed_destination,
    }


# ---------------------------------------------------------------- the stages (subprocesses)

def stage_ingest(params: Dict[str, Any]) -> Dict[str, Any]:
    import tempfile

    import ingest_bench
    import tensorflow  # noqa: F401  imported before the clocks start, as the pipeline has them
    from tfx.dsl.components.base import base_beam_executor  # noqa: F401

    from components import oxford_pet_example_gen  # noqa: F401
    from pipeline.config import PipelineConfig

    beam_args = PipelineConfig.__dataclass_fields__["beam_args"].default_factory()
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        plain = ingest_bench.plain_loop(params["data_dir"], scratch)
        plain_seconds = time.perf_counter() - start
        start = time.perf_counter()
        beam = ingest_bench.beam_ingest(params["data_dir"], os.path.join(scratch, "beam"),
                                        beam_args)
        beam_seconds = time.perf_counter() - start
    return {"plain_rate": plain / plain_seconds, "beam_rate": beam / beam_seconds,
            "beam_args": beam_args, "images": beam}


def pipeline_command(params: Dict[str, Any]) -> List[str]:
    """local_runner.py as a user runs it, with the benchmark's settings."""
    return ([sys.executable, os.path.join(REPO, "local_runner.py"),
             "--data-dir", params["data_dir"], "--work-dir", params["work_dir"],
             "--architecture", params["architecture"], "--epochs", str(params["epochs"]),
             "--image-size", str(params["image_size"]),
             "--batch-size", str(params["batch_size"]), "--encoder-weights", "none",
             "--min-pixel-accuracy", "0", "--no-cache"]
            + ([] if params["train_encoder"] else ["--freeze-encoder"]))


def stage_pipeline(params: Dict[str, Any]) -> Dict[str, Any]:
    import shutil

    import psutil

    from pipeline.config import METADATA_FILE
    from runs import evaluation, metadata

    work_dir = params["work_dir"]
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    samples: List[tuple] = []
    start = time.time()
    with open(os.path.join(work_dir, "run.log"), "w") as log:
        child = subprocess.Popen(pipeline_command(params), cwd=REPO, stdout=log,
                                 stderr=subprocess.STDOUT)
        process = psutil.Process(child.pid)
        while child.poll() is None:
            try:
                tree = [process] + process.children(recursive=True)
                samples.append((time.time(), sum(p.memory_info().rss for p in tree)))
            except psutil.Error:
                pass
            time.sleep(0.2)
    wall = time.time() - start
    if child.returncode:
        raise SystemExit(f"the pipeline failed (exit {child.returncode}); see "
                         f"{os.path.join(work_dir, 'run.log')}")
    store = metadata.open_store(os.path.join(work_dir, "pipeline_root", METADATA_FILE))
    components, prefix = {}, pipeline_name() + "."
    for execution in store.get_executions():
        names = [c.name for c in store.get_contexts_by_execution(execution.id)
                 if c.name.startswith(prefix)]
        if not names:
            continue
        begin = execution.create_time_since_epoch / 1e3
        end = execution.last_update_time_since_epoch / 1e3
        window = [rss for moment, rss in samples if begin <= moment <= end]
        components[names[0][len(prefix):]] = {
            "seconds": end - begin, "start": begin - start,
            "peak_rss": max(window) if window else None}
    outputs = pipeline_outputs(work_dir)
    with open(os.path.join(outputs["model_run"], "trainer_timings.json")) as handle:
        timings = json.load(handle)
    metrics = evaluation.overall_metrics(outputs["evaluation"])
    return {"wall_seconds": wall, "components": components, "trainer_timings": timings,
            "pixel_accuracy": metrics.get("pixel_accuracy"),
            "peak_rss_sampled": max((rss for _, rss in samples), default=None)}


def seed_command(params: Dict[str, Any], result_path: str) -> List[str]:
    """bench/seed_flow.py, at the pipeline's size, batch and epochs."""
    return ([sys.executable, os.path.join(HERE, "seed_flow.py"), "--data-dir",
             params["data_dir"], "--image-size", str(params["image_size"]),
             "--batch-size", str(params["batch_size"]), "--epochs", str(params["epochs"]),
             "--result", result_path] + (["--train-encoder"] if params["train_encoder"] else []))


def stage_plain(params: Dict[str, Any]) -> Dict[str, Any]:
    """The tuned plain script (timed whole by the parent): the project's builder and the
    tutorial's tf.data input with .cache(), validating after every epoch on the examples the
    Trainer validates on by default (one eval example in `validation_subsplits`), then
    model.evaluate on the whole eval split."""
    import tensorflow as tf

    size, batch = params["image_size"], params["batch_size"]
    every_nth = trainer_settings(params).validation_subsplits
    train, train_count = tutorial_dataset(params["data_dir"], "train", size)
    test, test_count = tutorial_dataset(params["data_dir"], "eval", size)
    train = train.cache().shuffle(256, seed=0).batch(batch).prefetch(tf.data.AUTOTUNE)
    validation = test.shard(every_nth, 0).cache().batch(batch).prefetch(tf.data.AUTOTUNE)
    test = test.cache().batch(batch).prefetch(tf.data.AUTOTUNE)
    model = build_model(params)
    timer = epoch_timer()
    start = time.perf_counter()
    model.fit(train, validation_data=validation, epochs=params["epochs"], verbose=0,
              callbacks=[timer])
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    accuracy = model.evaluate(test, verbose=0, return_dict=True)["accuracy"]
    evaluate_seconds = time.perf_counter() - start
    return {"pixel_accuracy": accuracy, "train_images": train_count, "eval_images": test_count,
            "evaluate_rate": test_count / evaluate_seconds, "fit_seconds": fit_seconds,
            "evaluate_seconds": evaluate_seconds, "epochs": timer.records}


def stage_transform(params: Dict[str, Any]) -> Dict[str, Any]:
    """preprocessing_fn's work (decode, resize, normalize image and trimap) in plain tf.data."""
    import glob

    import tensorflow as tf

    from trainer import features, preprocessing

    outputs = pipeline_outputs(params["work_dir"])
    files = sorted(glob.glob(os.path.join(outputs["raw_examples"], "Split-*", "*")))
    spec = {features.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
            features.MASK_KEY: tf.io.FixedLenFeature([], tf.string)}
    size = params["image_size"]

    def work(records):
        parsed = tf.io.parse_example(records, spec)
        return (preprocessing.decode_images(parsed[features.IMAGE_KEY], size),
                preprocessing.decode_masks(parsed[features.MASK_KEY], size))

    rates = {}
    for label, threads in (("warm_up", None), ("all_cores", None), ("one_thread", 1)):
        dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(16).map(
            work, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
        if threads:
            dataset = dataset.with_options(one_thread())
        count, start = 0, time.perf_counter()
        for images, _ in dataset:
            count += int(images.shape[0])
        rates[label] = count / (time.perf_counter() - start)
    return {"plain_rate": rates["all_cores"], "plain_rate_one_thread": rates["one_thread"],
            "examples": count}


def stage_train(params: Dict[str, Any]) -> Dict[str, Any]:
    import glob

    import numpy as np
    import tensorflow as tf
    import tensorflow_transform as tft

    from trainer import train

    outputs = pipeline_outputs(params["work_dir"])
    tf_transform_output = tft.TFTransformOutput(outputs["transform_graph"])
    files = sorted(glob.glob(os.path.join(outputs["transformed_examples"], "Split-train", "*")))
    batch, epochs = params["batch_size"], max(2, params.get("train_epochs", params["epochs"]))
    settings = trainer_settings(params)

    def trainer_input(cache=settings.cache_examples):  # what run_fn feeds fit
        return train.input_fn(files, tf_transform_output, batch, shuffle=True, augment=True,
                              seed=settings.seed, cache=cache)

    result: Dict[str, Any] = {"epochs": epochs}
    # 1. The input function alone: all cores, then one thread (the rate per core); as the
    # Trainer runs it (parsed examples cached after the first epoch), and from the files
    # every epoch (what the first epoch, or data larger than memory, costs).
    for label, threads, cache in (("input_rate", None, True),
                                  ("input_rate_one_thread", 1, True),
                                  ("input_rate_files", None, False),
                                  ("input_rate_files_one_thread", 1, False)):
        dataset = trainer_input(cache)
        if threads:
            dataset = dataset.with_options(one_thread())
        count, start = 0, time.perf_counter()
        for _ in range(epochs):
            for images, _ in dataset:
                count += int(images.shape[0])
        result[label] = count / (time.perf_counter() - start)
    train_images = count // epochs

    # 2. model.fit steps on the same model, fed three ways. Rates exclude the first epoch
    # (tracing, and the tutorial's .cache() filling).
    images, masks = [], []
    for image, mask in train.input_fn(files, tf_transform_output, batch):
        images.append(image.numpy())
        masks.append(mask.numpy())
    memory = tf.data.Dataset.from_tensor_slices(
        (np.concatenate(images), np.concatenate(masks))).batch(batch)
    tutorial, _ = tutorial_dataset(params["data_dir"], "train", params["image_size"])
    tutorial = tutorial.cache().shuffle(256, seed=0).batch(batch).prefetch(tf.data.AUTOTUNE)
    # The three fits take turns epoch by epoch, so a change in the machine's load between
    # minutes falls on all three alike.
    steps_per_epoch = math.ceil(train_images / batch)
    fits = [(label, dataset, build_model(params), StepTimer(batch, train_images))
            for label, dataset in (("memory", memory), ("trainer", trainer_input()),
                                   ("tutorial", tutorial))]
    for epoch in range(epochs):
        for label, dataset, model, timer in fits:
            start = time.perf_counter()
            model.fit(dataset, initial_epoch=epoch, epochs=epoch + 1, verbose=0,
                      callbacks=[timer.callback])
            key = f"{label}_fit_seconds"
            result[key] = result.get(key, 0.0) + time.perf_counter() - start
    for label, _, _, timer in fits:
        result[f"{label}_first_step_seconds"] = timer.seconds[0]
        later = slice(steps_per_epoch, None)
        seconds, counted = timer.seconds[later], timer.images[later]
        result[f"{label}_step_rate"] = sum(counted) / sum(seconds)
        result[f"{label}_median_step_rate"] = median_rate(seconds, counted)
        result[f"{label}_timed_steps"] = len(seconds)
    result["train_images"] = train_images
    return result


def stage_serving(params: Dict[str, Any]) -> Dict[str, Any]:
    import numpy as np
    import tensorflow as tf

    from oxford_pet import layout
    from trainer import features

    outputs = pipeline_outputs(params["work_dir"])
    if not outputs["pushed_model"]:
        raise SystemExit("the pipeline pushed no model: nothing to serve")
    entries = split_entries(params["data_dir"], "eval")[:params["requests"]]
    jpegs = [open(layout.image_path(params["data_dir"], e.name), "rb").read() for e in entries]
    serve = tf.saved_model.load(outputs["pushed_model"]).signatures[features.SERVING_SIGNATURE]
    size, batch = params["image_size"], params["batch_size"]
    arrays = np.stack([tf.image.resize(tf.io.decode_jpeg(data, channels=3), [size, size]).numpy()
                       / 255.0 for data in jpegs]).astype("float32")
    model = build_model(params)

    def ours(index, count=1):
        serve(image_bytes=tf.constant(jpegs[index:index + count]))[
            features.PROBABILITIES_KEY].numpy()

    def predict(index, count=1):
        model.predict(arrays[index:index + count], batch_size=batch, verbose=0)

    def call(index, count=1):
        model(arrays[index:index + count], training=False).numpy()

    result: Dict[str, Any] = {"requests": len(jpegs)}
    for label, function in (("serving", ours), ("predict", predict), ("call", call)):
        for index in range(3):
            function(index)  # warm up: tracing
        latencies = []
        for index in range(len(jpegs)):
            start = time.perf_counter()
            function(index)
            latencies.append(time.perf_counter() - start)
        function(0, batch)
        start = time.perf_counter()
        for index in range(0, len(jpegs), batch):
            function(index, batch)
        result[label] = {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95),
                         "batch_rate": len(jpegs) / (time.perf_counter() - start)}
    return result


STAGE_FUNCTIONS = {"ingest": stage_ingest, "pipeline": stage_pipeline, "plain": stage_plain,
                   "transform": stage_transform, "train": stage_train,
                   "serving": stage_serving}


# ---------------------------------------------------------------- the parent

def cpu_ticks() -> Optional[Dict[str, int]]:
    """The machine's CPU time so far by kind, in clock ticks (/proc/stat), or None elsewhere.

    `steal` is time the hypervisor gave this virtual machine's CPUs to someone else: load
    that `uptime` inside the machine does not show, and that slows every stage it falls on.
    """
    try:
        with open("/proc/stat") as handle:
            fields = handle.readline().split()[1:]
    except OSError:
        return None
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    return {name: int(value) for name, value in zip(names, fields)}


def steal_share(before: Optional[Dict[str, int]], after: Optional[Dict[str, int]]
                ) -> Optional[float]:
    """The share of all CPU time between two cpu_ticks() readings that was stolen."""
    if not before or not after or "steal" not in after:
        return None
    total = sum(after.values()) - sum(before.values())
    return (after["steal"] - before["steal"]) / total if total > 0 else None


# tf.Transform sets TF_USE_LEGACY_KERAS=1 in os.environ when imported
# (tensorflow_transform/keras_lib.py): inherited, it would turn the seed flow's `tf.keras`
# (Keras 3, as a user's shell has it) into tf_keras. The stages import what they need.
INHERITED_NOT = ("TF_USE_LEGACY_KERAS",)


def child_environment() -> Dict[str, str]:
    """The stages' environment: the repository importable, TensorFlow's C++ logs quiet, and
    none of INHERITED_NOT."""
    environment = {name: value for name, value in os.environ.items()
                   if name not in INHERITED_NOT}
    return {**environment,
            "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}


def stage_command(name: str, params: Dict[str, Any], result_path: str) -> List[str]:
    if name == "seed":  # its own script, timed whole
        return seed_command(params, result_path)
    return [sys.executable, os.path.abspath(__file__), "--stage", name,
            "--params", json.dumps(params), "--result", result_path]


def run_stage(name: str, params: Dict[str, Any], result_path: str) -> Dict[str, Any]:
    """Runs one stage in a fresh Python process; adds its wall time, peak RSS (wait4), the
    share of CPU time the hypervisor stole meanwhile and the load average after it."""
    print(f"  {name} ...", end="", flush=True)
    start, ticks = time.time(), cpu_ticks()
    log_path = result_path[:-len(".json")] + ".log"
    with open(log_path, "w") as log:
        child = subprocess.Popen(stage_command(name, params, result_path), cwd=REPO,
                                 stdout=log, stderr=subprocess.STDOUT, env=child_environment())
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.time() - start
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"stage {name} failed; see {log_path}")
    with open(result_path) as handle:
        result = json.load(handle)
    # ru_maxrss (KiB) covers the stage process and the descendants it waited for.
    result.update(stage_wall_seconds=wall, stage_peak_rss=usage.ru_maxrss * 1024,
                  load_average=os.getloadavg()[0], steal=steal_share(ticks, cpu_ticks()))
    with open(result_path, "w") as handle:
        json.dump(result, handle, indent=2)
    stolen = f", {result['steal'] * 100:.0f}% CPU stolen" if result["steal"] is not None else ""
    print(f" {wall:.0f} s, peak RSS {usage.ru_maxrss / 2 ** 20:.2f} GiB{stolen}", flush=True)
    return result


def ensure_full_shape(data_dir: str, count: int) -> None:
    """The full dataset's shape, generated once: `count` images, the official split's sizes
    (trainval FULL_TRAIN, the rest test, scaled when `count` is not FULL_COUNT)."""
    import ingest_bench

    from oxford_pet import layout

    ingest_bench.ensure_dataset(data_dir, count, min_size=FULL_MIN_SIZE,
                                max_size=FULL_MAX_SIZE, quality=FULL_QUALITY)
    entries = layout.read_list(os.path.join(data_dir, layout.LIST_FILE))
    train = round(count * FULL_TRAIN / FULL_COUNT)
    for split, chosen in (("train", entries[:train]), ("eval", entries[train:])):
        layout.write_list(os.path.join(data_dir, layout.SPLIT_LISTS[split]), chosen)


def run_size(args: argparse.Namespace, label: str, count: int, stages) -> Dict[str, Any]:
    import ingest_bench

    if label == "full":
        data_dir = os.path.join(args.root, f"data-full-{count}")
        ensure_full_shape(data_dir, count)
    else:
        data_dir = os.path.join(args.root, f"data-{count}-{args.min_size}-{args.max_size}")
        ingest_bench.ensure_dataset(data_dir, count, min_size=args.min_size,
                                    max_size=args.max_size)
    size_dir = os.path.join(args.root, f"size-{label}-{count}")
    os.makedirs(size_dir, exist_ok=True)
    params = {"data_dir": data_dir, "work_dir": os.path.join(size_dir, "pipeline"),
              "architecture": args.architecture, "image_size": args.image_size,
              "epochs": args.epochs, "batch_size": args.batch_size,
              "train_encoder": args.train_encoder, "train_epochs": args.train_epochs,
              "requests": args.requests}
    results: Dict[str, Any] = {"count": count, "label": label, "params": params}
    print(f"== {label}: {count} images", flush=True)
    for name in stages:
        path = os.path.join(size_dir, f"{name}.json")
        if name not in args.skip and not args.report:
            results[name] = run_stage(name, params, path)
        elif os.path.isfile(path):  # a skipped stage keeps its earlier result, if any
            with open(path) as handle:
                results[name] = json.load(handle)
    with open(os.path.join(size_dir, "results.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    return results


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="images in the main run")
    parser.add_argument("--memory-count", type=int, default=500,
                        help="images in the smaller run (memory growth); 0 skips it")
    parser.add_argument("--full-count", type=int, default=FULL_COUNT,
                        help="images in the run at the full dataset's shape; 0 skips it")
    parser.add_argument("--project-epochs", type=int, default=20,
                        help="epochs the full-shape run's measured epochs are projected to")
    parser.add_argument("--min-size", type=int, default=300, help="smallest generated side")
    parser.add_argument("--max-size", type=int, default=500, help="largest generated side")
    parser.add_argument("--architecture", default="unet_mobilenet_v2",
                        help="the model every stage trains (features.ARCHITECTURES)")
    parser.add_argument("--train-encoder", action="store_true",
                        help="train the MobileNetV2 encoder everywhere (default: frozen, as "
                             "the tutorial and the pipeline's default do with ImageNet "
                             "weights; a step costs the same with any weight values)")
    parser.add_argument("--image-size", type=int, default=128,
                        help="square side the images are resized to (a multiple of 32)")
    parser.add_argument("--epochs", type=int, default=2,
                        help="training epochs of the pipeline, the seed flow and the script")
    parser.add_argument("--train-epochs", type=int, default=3,
                        help="epochs of each fit in the train stage (at least 2; all but the "
                             "first are timed)")
    parser.add_argument("--batch-size", type=int, default=16, help="training batch size")
    parser.add_argument("--requests", type=int, default=100,
                        help="single-image serving requests timed (test images)")
    parser.add_argument("--root", default="/tmp/petseg-pipeline-bench",
                        help="datasets, pipeline runs and per-stage results go here")
    parser.add_argument("--skip", action="append", default=[], choices=STAGES,
                        help="do not run this stage (repeatable); its earlier result under "
                             "--root, if any, is reported")
    parser.add_argument("--out", default=os.path.join(REPO, "BENCHMARKS.md"),
                        help="the Markdown results file to write")
    parser.add_argument("--note", default="", help="a line for the header, e.g. that other "
                                                   "work shared the machine")
    parser.add_argument("--reading", metavar="FILE", help="markdown for a '## Reading' section")
    parser.add_argument("--report", action="store_true",
                        help="measure nothing: rewrite --out from the results under --root "
                             "(give the same sizes and training flags as the run)")
    inner = parser.add_argument_group("internal (how the benchmark runs each stage in its own "
                                      "process; not for direct use)")
    inner.add_argument("--stage", choices=STAGES, help="run only this stage, in this process")
    inner.add_argument("--params", help="the stage's parameters, JSON")
    inner.add_argument("--result", help="where the stage writes its result, JSON")
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    sys.path[:0] = [REPO, HERE]

    if args.stage:  # inside a stage's own process
        result = STAGE_FUNCTIONS[args.stage](json.loads(args.params))
        with open(args.result, "w") as handle:
            json.dump(result, handle, indent=2)
        return 0

    import pipeline_figures

    os.makedirs(args.root, exist_ok=True)
    sizes = {}
    for label, count, stages in (("small", args.memory_count, STAGES),
                                 ("main", args.count, STAGES),
                                 ("full", args.full_count, FULL_STAGES)):
        if count:
            sizes[label] = run_size(args, label, count, stages)
    if "main" not in sizes or len(sizes["main"]) <= 3:
        raise SystemExit(f"no results for {args.count} images under {args.root}")
    figures = pipeline_figures.compute(sizes, args.project_epochs)
    reading = open(args.reading).read() if args.reading else ""
    with open(args.out, "w") as handle:
        handle.write(pipeline_figures.render(figures, pipeline_figures.run_facts(args),
                                             reading))
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
