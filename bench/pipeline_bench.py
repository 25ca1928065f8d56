"""Where the time goes: the whole pipeline and each stage against the tutorial's plain way.

One command generates a dataset in the real layout (default 2,000 images, 300-500 px JPEGs with
trimaps), runs every stage in its own subprocess (so each stage's peak RSS is its own), and
writes BENCHMARKS.md: each figure with its reference and their ratio, the machine, versions and
the date, and per stage its wall time, peak RSS and the share of CPU time the hypervisor stole
(on a virtual machine, other tenants' load that `uptime` does not show). Stages, in order, per
dataset size (--memory-count first, then --count):

  ingest     the ExampleGen's Beam job vs a plain loop (bench/ingest_bench.py's functions)
  pipeline   `local_runner.py` end to end, fresh pipeline root; per-component wall time from
             the metadata store, per-component peak RSS sampled every 0.2 s (psutil)
  plain      a plain tutorial-style script on the same files, model, epochs and batch: read,
             decode, resize, normalize, .cache(), model.fit, model.evaluate (pixel accuracy)
  transform  the same decode + resize + normalize as preprocessing_fn in plain tf.data over the
             ingested records: the floor for the Transform component's rate
  train      the Trainer's input_fn alone (all cores, and one thread: the rate per core); then
             model.fit steps fed by input_fn, by in-memory tensors and by the tutorial's
             tf.data-from-files-with-.cache() pipeline, on the same model: the three fits take
             turns epoch by epoch (--train-epochs, all but the first timed), and their rates
             are the median step's, so a burst of CPU steal does not decide the ratios
  serving    the pushed SavedModel's serving_default on JPEG bytes vs Keras model.predict on
             pre-decoded arrays: p50/p95 per single-image request and images/s in batches

    ENV=$(bash scripts/ensure_env.sh)
    $ENV/bin/python bench/pipeline_bench.py                      # the full benchmark
    $ENV/bin/python bench/pipeline_bench.py --count 100 --memory-count 50 --image-size 64 \\
        --min-size 120 --max-size 200 --out /tmp/B.md             # a quick check
    $ENV/bin/python bench/pipeline_bench.py --report              # only rewrite BENCHMARKS.md
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)
os.environ["PYTHONPATH"] = REPO + os.pathsep + os.environ.get("PYTHONPATH", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

STAGES = ("ingest", "pipeline", "plain", "transform", "train", "serving")
PIPELINE_NAME = "pet-segmentation"
GPU_TARGET = 500  # images/s the tutorial's model trains at on a T4 (issue 6)


# ---------------------------------------------------------------- helpers shared by stages

def median_rate(step_seconds: List[float], images_per_step: List[int]) -> float:
    """Images per second of a typical full step: the batch over the median full step's time.

    A mean over the steps takes in every stall the machine had meanwhile (a burst of CPU
    steal, another process); the median of a few hundred steps does not, unless the stalls
    last through half of them.
    """
    full = max(images_per_step)
    times = [t for t, n in zip(step_seconds, images_per_step) if n == full]
    return full / statistics.median(times) if times else float("nan")


def cores(needed: float) -> str:
    """How many whole cores a share of cores rounds up to, in words: '1 core', '3 cores'."""
    count = max(1, math.ceil(needed))
    return f"{count} core" + ("s" if count > 1 else "")


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


def build_model(params: Dict[str, Any]):
    import tf_keras as keras

    from trainer import models

    keras.utils.set_random_seed(0)
    return models.build_model(params["architecture"], image_size=params["image_size"],
                              encoder_weights="none", learning_rate=1e-3)


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


def pipeline_outputs(work_dir: str) -> Dict[str, Any]:
    """Artifact locations of the pipeline stage's run, from its metadata store."""
    from pipeline import run_summary

    summary = run_summary.summarize(os.path.join(work_dir, "pipeline_root", "metadata.sqlite"),
                                    PIPELINE_NAME)
    transform = summary.component("Transform")
    return {
        "raw_examples": summary.component("OxfordPetExampleGen").output("examples").uri,
        "transformed_examples": transform.output("transformed_examples").uri,
        "transform_graph": transform.output("transform_graph").uri,
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

    beam_args = PipelineConfig.__dataclass_fields__["ingest_beam_args"].default_factory()
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


def stage_pipeline(params: Dict[str, Any]) -> Dict[str, Any]:
    import shutil

    import psutil

    from runs import metadata

    work_dir = params["work_dir"]
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    command = [sys.executable, os.path.join(REPO, "local_runner.py"),
               "--data-dir", params["data_dir"], "--work-dir", work_dir,
               "--architecture", params["architecture"], "--epochs", str(params["epochs"]),
               "--image-size", str(params["image_size"]),
               "--batch-size", str(params["batch_size"]), "--encoder-weights", "none",
               "--min-pixel-accuracy", "0", "--no-cache"]
    samples: List[tuple] = []
    start = time.time()
    with open(os.path.join(work_dir, "run.log"), "w") as log:
        child = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
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
    store = metadata.open_store(os.path.join(work_dir, "pipeline_root", "metadata.sqlite"))
    components = {}
    for execution in store.get_executions():
        names = [c.name for c in store.get_contexts_by_execution(execution.id)
                 if c.name.startswith(PIPELINE_NAME + ".")]
        if not names:
            continue
        begin = execution.create_time_since_epoch / 1e3
        end = execution.last_update_time_since_epoch / 1e3
        window = [rss for moment, rss in samples if begin <= moment <= end]
        components[names[0][len(PIPELINE_NAME) + 1:]] = {
            "seconds": end - begin, "start": begin - start,
            "peak_rss": max(window) if window else None}
    with open(os.path.join(work_dir, "run.log")) as log:
        phases = trainer_phases(log.read())
    return {"wall_seconds": wall, "components": components, "trainer_phases": phases,
            "peak_rss_sampled": max((rss for _, rss in samples), default=None)}


def stage_plain(params: Dict[str, Any]) -> Dict[str, Any]:
    """The plain tutorial-style script; its wall time is measured by the parent."""
    import tensorflow as tf

    size, batch = params["image_size"], params["batch_size"]
    train, train_count = tutorial_dataset(params["data_dir"], "train", size)
    test, test_count = tutorial_dataset(params["data_dir"], "eval", size)
    train = train.cache().shuffle(256, seed=0).batch(batch).prefetch(tf.data.AUTOTUNE)
    test = test.batch(batch).prefetch(tf.data.AUTOTUNE)
    model = build_model(params)
    start = time.perf_counter()
    model.fit(train, epochs=params["epochs"], verbose=0)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    _, accuracy = model.evaluate(test, verbose=0)
    evaluate_seconds = time.perf_counter() - start
    result = {"pixel_accuracy": accuracy, "train_images": train_count,
              "eval_images": test_count, "evaluate_rate": test_count / evaluate_seconds,
              "fit_seconds": fit_seconds, "evaluate_seconds": evaluate_seconds}
    start = time.perf_counter()  # not part of the script: a second, warm pass for reference
    model.evaluate(test, verbose=0)
    result["warm_evaluate_seconds"] = time.perf_counter() - start
    result["warm_evaluate_rate"] = test_count / result["warm_evaluate_seconds"]
    return result


def plain_script_seconds(plain: Dict[str, Any]) -> float:
    """The plain script's own wall time: its stage's, less the warm reference evaluation the
    stage adds after the script (recorded since 2026-11-22; older results include it)."""
    return plain["stage_wall_seconds"] - plain.get("warm_evaluate_seconds", 0.0)


# What trainer/train.py prints (its _EpochLog and EXPORT_LINE; tests/test_pipeline_bench.py
# parses their real output).
TRAINER_EPOCH = re.compile(
    r"^\[Trainer\] epoch \d+/\d+ \(train ([\d.]+) s, validation ([\d.]+) s\)")
TRAINER_EXPORT = re.compile(r"^\[Trainer\] exported the SavedModel in ([\d.]+) s")


def trainer_phases(log_text: str) -> Dict[str, float]:
    """Seconds the Trainer spent training, validating and exporting, from its log lines
    (trainer/train.py prints them); empty when the log has none."""
    phases: Dict[str, float] = {}
    for line in log_text.splitlines():
        epoch, export = TRAINER_EPOCH.match(line), TRAINER_EXPORT.match(line)
        if epoch:
            phases["train"] = phases.get("train", 0.0) + float(epoch.group(1))
            phases["validation"] = phases.get("validation", 0.0) + float(epoch.group(2))
        elif export:
            phases["export"] = float(export.group(1))
    return phases


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

    def trainer_input(cache=train.TrainerSettings().cache_examples):  # what run_fn feeds fit
        return train.input_fn(files, tf_transform_output, batch, shuffle=True, augment=True,
                              seed=0, cache=cache)

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
        result[f"{label}_step_seconds"] = seconds
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


def run_stage(name: str, params: Dict[str, Any], result_path: str) -> Dict[str, Any]:
    """Runs one stage in a fresh Python process; adds its wall time, peak RSS (wait4) and the
    share of CPU time the hypervisor stole meanwhile."""
    command = [sys.executable, os.path.abspath(__file__), "--stage", name,
               "--params", json.dumps(params), "--result", result_path]
    print(f"  {name} ...", end="", flush=True)
    start, ticks = time.time(), cpu_ticks()
    log_path = result_path[:-len(".json")] + ".log"
    with open(log_path, "w") as log:
        child = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
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


def run_size(args: argparse.Namespace, count: int) -> Dict[str, Any]:
    import ingest_bench

    data_dir = os.path.join(args.root, f"data-{count}-{args.min_size}-{args.max_size}")
    ingest_bench.ensure_dataset(data_dir, count, min_size=args.min_size,
                                max_size=args.max_size)
    size_dir = os.path.join(args.root, f"size-{count}")
    os.makedirs(size_dir, exist_ok=True)
    params = {"data_dir": data_dir, "work_dir": os.path.join(size_dir, "pipeline"),
              "architecture": args.architecture, "image_size": args.image_size,
              "epochs": args.epochs, "batch_size": args.batch_size,
              "train_epochs": args.train_epochs, "requests": args.requests}
    results: Dict[str, Any] = {"count": count, "params": params}
    print(f"== {count} images", flush=True)
    for name in STAGES:
        path = os.path.join(size_dir, f"{name}.json")
        if name not in args.skip:
            results[name] = run_stage(name, params, path)
        elif os.path.isfile(path):  # a skipped stage keeps its earlier result, if any
            with open(path) as handle:
                results[name] = json.load(handle)
    with open(os.path.join(size_dir, "results.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    return results


def load_size(args: argparse.Namespace, count: int) -> Optional[Dict[str, Any]]:
    """The stage results recorded under --root for `count` images (None if there are none)."""
    size_dir = os.path.join(args.root, f"size-{count}")
    results: Dict[str, Any] = {"count": count, "params": {
        "architecture": args.architecture, "image_size": args.image_size,
        "epochs": args.epochs, "batch_size": args.batch_size}}
    for name in STAGES:
        path = os.path.join(size_dir, f"{name}.json")
        if os.path.isfile(path):
            with open(path) as handle:
                results[name] = json.load(handle)
    return results if len(results) > 2 else None


def versions() -> str:
    import importlib.metadata as metadata

    names = ("tfx", "tensorflow", "tf-keras", "tensorflow-transform",
             "tensorflow-model-analysis", "apache-beam")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found + [f"Python {platform.python_version()}"])


def ratio_row(figure: str, ours: float, reference_label: str, reference: float, unit: str,
              target: str = "", higher_is_better: bool = True) -> str:
    ratio = ours / reference if reference else float("nan")
    met = ""
    if target:
        bound = float(target.split()[-1].rstrip("x"))
        met = " (met)" if (ratio >= bound if higher_is_better else ratio <= bound) else \
            " (missed)"
    return (f"| {figure} | {ours:,.1f} {unit} | {reference_label} | {reference:,.1f} {unit} | "
            f"{ratio:.2f}x | {target}{met} |")


def extra_time_table(pipeline: Dict[str, Any], plain: Dict[str, Any]) -> List[str]:
    """Markdown: the pipeline's wall time and the plain script's, side by side by kind of
    work (needs the Trainer's phase times and the script's fit/evaluate times)."""
    phases, components = pipeline.get("trainer_phases", {}), pipeline["components"]
    if not {"train", "validation", "export"} <= set(phases) or "fit_seconds" not in plain:
        return []

    def seconds(*names: str) -> float:
        return sum(components.get(name, {}).get("seconds", 0.0) for name in names)

    data = ("OxfordPetExampleGen", "StatisticsGen", "ExampleValidator", "AnomaliesGate",
            "ImportSchemaGen")
    trainer = seconds("Trainer")
    ours = pipeline["stage_wall_seconds"]
    script = plain_script_seconds(plain)
    rows = [
        ("ingest, statistics, schema check (ExampleGen .. AnomaliesGate)", seconds(*data), 0.0),
        ("Transform (decode + resize once, materialized)", seconds("Transform"), 0.0),
        ("training epochs (the script decodes inside its first epoch)", phases["train"],
         plain["fit_seconds"]),
        ("validation on the eval split after each epoch", phases["validation"], 0.0),
        ("export: SavedModel with the Transform graph and 3 signatures", phases["export"], 0.0),
        ("Trainer, the rest: user-module install, model build, reading class weights",
         trainer - phases["train"] - phases["validation"] - phases["export"], 0.0),
        ("evaluation (TFMA Evaluator, by slice; the script: model.evaluate)",
         seconds("Evaluator"), plain["evaluate_seconds"]),
        ("resolver, pusher, evaluation report", seconds(
            "latest_blessed_model_resolver", "VersionedPusher", "EvaluationReport"), 0.0),
    ]
    rows.append(("the rest: Python start, imports, pipeline compilation, metadata store",
                 ours - sum(row[1] for row in rows),
                 script - plain["fit_seconds"] - plain["evaluate_seconds"]))
    lines = ["", "## Where the pipeline's extra time goes", "",
             "The same run's end-to-end times by kind of work (the Trainer's split from its "
             "own log lines).", "",
             "| work | pipeline s | plain script s | extra s |", "| --- | ---: | ---: | ---: |"]
    for label, pipeline_seconds, script_seconds in rows:
        lines.append(f"| {label} | {pipeline_seconds:.1f} | {script_seconds:.1f} | "
                     f"{pipeline_seconds - script_seconds:+.1f} |")
    lines.append(f"| total | {ours:.1f} | {script:.1f} | {ours - script:+.1f} |")
    return lines


def render(main: Dict[str, Any], small: Optional[Dict[str, Any]], args: argparse.Namespace,
           reading: str) -> str:
    from ingest_bench import machine

    p = main["params"]
    lines = ["# Benchmarks: the pipeline against the tutorial's plain way", "",
             f"Written by `bench/pipeline_bench.py` on {datetime.date.today().isoformat()}.", "",
             f"- machine: {machine()}; load average after the run "
             f"{main[list(k for k in STAGES if k in main)[-1]]['load_average']:.1f}",
             f"- versions: {versions()}",
             f"- data: {main['count']} generated images in the real layout "
             f"({args.min_size}-{args.max_size} px JPEGs, PNG trimaps; half trainval, half "
             f"test), {p['architecture']}, {p['image_size']} px, {p['epochs']} epochs, batch "
             f"{p['batch_size']}, no pretrained weights",
             "- command: `$(bash scripts/ensure_env.sh)/bin/python bench/pipeline_bench.py"
             + "".join(f" {a}" for a in args.argv) + "`"]
    if args.note:
        lines += [f"- note: {args.note}"]
    lines += ["", ("Every figure and its reference come from the same run, one stage after the "
                   "other, each stage in its own process." if not getattr(args, "report", False)
                   else "Each stage ran in its own process; this file was rewritten (--report) "
                   "from the stage results under --root, which may come from separate passes: "
                   "see the note."), "",
              "| figure | ours | reference | reference value | ratio | target |",
              "| --- | ---: | --- | ---: | ---: | --- |"]
    pipeline = main.get("pipeline", {})
    components = pipeline.get("components", {})
    plain = main.get("plain", {})
    count = main["count"]
    if "ingest" in main:
        ingest = main["ingest"]
        lines.append(ratio_row("Ingest (ExampleGen's Beam job, examples/s)",
                               ingest["beam_rate"], "plain loop, 1 process",
                               ingest["plain_rate"], "ex/s"))
    if "transform" in main and "Transform" in components:
        rate = main["transform"]["examples"] / components["Transform"]["seconds"]
        lines.append(ratio_row("Transform component (examples/s)", rate,
                               "plain tf.data decode+resize+normalize",
                               main["transform"]["plain_rate"], "ex/s", ">= 0.7x"))
    small_components = (small or {}).get("pipeline", {}).get("components", {})
    for name, unit in (("Transform", main.get("transform", {}).get("examples")),
                       ("Evaluator", plain.get("eval_images"))):
        # Between the two sizes: the per-example rate without the fixed cost, and that cost.
        if name in components and name in small_components and unit and small:
            extra = components[name]["seconds"] - small_components[name]["seconds"]
            examples = unit * (1 - small["count"] / count)
            if extra > 0:
                fixed = components[name]["seconds"] - unit / (examples / extra)
                lines.append(f"| {name}, per example between {small['count']} and {count} "
                             f"images (fixed cost {fixed:.0f} s left out) | "
                             f"{examples / extra:,.1f} ex/s | | | | |")
    train = main.get("train")
    if train:
        # The median step where recorded (robust to stalls), else the mean over the steps.
        kind = "median_step_rate" if "trainer_median_step_rate" in train else "step_rate"
        rate = {label: train[f"{label}_{kind}"] for label in ("trainer", "memory", "tutorial")}
        overhead = 1 - rate["trainer"] / rate["memory"]
        timed = (f", median of {train['trainer_timed_steps']} steps each"
                 if kind == "median_step_rate" else
                 f", {train['trainer_timed_steps']} steps timed each"
                 if "trainer_timed_steps" in train else "")
        lines.append(ratio_row(f"Training steps fed by the Trainer's input_fn (img/s); input "
                               f"overhead {overhead * 100:.1f}%{timed}", rate["trainer"],
                               "same steps on in-memory tensors", rate["memory"],
                               "img/s", ">= 0.95x"))
        lines.append(ratio_row("Training step rate, project settings (img/s)", rate["trainer"],
                               "tutorial: tf.data from files + .cache(), model.fit",
                               rate["tutorial"], "img/s", ">= 0.95x"))
        if kind == "median_step_rate":
            mean = {label: train[f"{label}_step_rate"] for label in rate}
            lines.append(f"| The same over all timed steps (mean, stalls included): input "
                         f"overhead {(1 - mean['trainer'] / mean['memory']) * 100:.1f}%, "
                         f"{mean['trainer'] / mean['tutorial']:.2f}x the tutorial | "
                         f"{mean['trainer']:,.1f} img/s | in-memory; tutorial | "
                         f"{mean['memory']:,.1f}; {mean['tutorial']:,.1f} img/s | | |")
        lines.append(ratio_row("First training step (tracing), s", train["trainer_first_step_seconds"],
                               "tutorial's first step", train["tutorial_first_step_seconds"],
                               "s"))
        if "input_rate_files" in train:
            lines.append(ratio_row("Trainer input_fn alone, from the files every epoch (img/s)",
                                   train["input_rate_files"], "one tf.data thread",
                                   train["input_rate_files_one_thread"], "img/s"))
        lines.append(ratio_row("Trainer input_fn alone, as the Trainer runs it (img/s)",
                               train["input_rate"], "one tf.data thread",
                               train["input_rate_one_thread"], "img/s"))
    if "Evaluator" in components and plain:
        rate = plain["eval_images"] / components["Evaluator"]["seconds"]
        lines.append(ratio_row("Evaluator component (examples/s)", rate,
                               "Keras model.evaluate in the plain script",
                               plain["evaluate_rate"], "ex/s"))
    serving = main.get("serving")
    if serving:
        ours, predict, call = serving["serving"], serving["predict"], serving["call"]
        lines.append(ratio_row("Serving p50, 1 JPEG per request (ms)", ours["p50"] * 1e3,
                               "model.predict, 1 pre-decoded array", predict["p50"] * 1e3,
                               "ms", "<= 1.25x", higher_is_better=False))
        lines.append(ratio_row("Serving p95, 1 JPEG per request (ms)", ours["p95"] * 1e3,
                               "model.predict, 1 pre-decoded array", predict["p95"] * 1e3,
                               "ms"))
        lines.append(ratio_row("Serving p50 vs a direct model call (ms)", ours["p50"] * 1e3,
                               "model(x), 1 pre-decoded array", call["p50"] * 1e3, "ms"))
        lines.append(ratio_row(f"Serving in batches of {p['batch_size']} (img/s)",
                               ours["batch_rate"], "model.predict on pre-decoded arrays",
                               predict["batch_rate"], "img/s"))
    if pipeline and plain:
        lines.append(ratio_row(f"End to end, {count} images, {p['epochs']} epochs (s)",
                               main["pipeline"]["stage_wall_seconds"],
                               "plain tutorial-style script", plain_script_seconds(plain),
                               "s", "<= 1.5x", higher_is_better=False))
    if components:
        lines += ["", "## End to end, per component", "",
                  f"`local_runner.py` on {count} images, fresh pipeline root (no cache), "
                  f"{pipeline['wall_seconds']:.0f} s in all; the rest is imports, pipeline "
                  "compilation and the metadata store. Peak RSS sampled every 0.2 s over the "
                  "whole process tree while the component ran.", "",
                  "| component | seconds | share |" +
                  (f" peak RSS GiB at {small['count']} |" if small and "pipeline" in small
                   else "") + f" peak RSS GiB at {count} |",
                  "| --- | ---: | ---: | ---: |" +
                  (" ---: |" if small and "pipeline" in small else "")]
        for name, item in sorted(components.items(), key=lambda kv: kv[1]["start"]):
            cells = [name, f"{item['seconds']:.1f}",
                     f"{item['seconds'] / pipeline['wall_seconds'] * 100:.0f}%"]
            if small and "pipeline" in small:
                other = small_components.get(name, {}).get("peak_rss")
                cells.append(f"{other / 2 ** 30:.2f}" if other else "n/a")
            cells.append(f"{item['peak_rss'] / 2 ** 30:.2f}" if item["peak_rss"] else "n/a")
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", f"Plain script for comparison: {plain_script_seconds(plain):.0f} "
                  f"s in all, pixel accuracy {plain.get('pixel_accuracy', float('nan')):.3f} "
                  f"(Keras' accuracy: 3 classes, at the model's input size)."]
        lines += extra_time_table(pipeline, plain)
    sizes = [s for s in (small, main) if s]
    lines += ["", "## Per stage: wall time, peak memory, CPU stolen", "",
              "Peak RSS of each stage's process (and the processes it waited for), from "
              "`wait4`. CPU stolen: the share of the machine's CPU time that the hypervisor "
              "gave to other virtual machines while the stage ran (`steal` in /proc/stat); "
              "the stages it fell on ran slower by about that much.", "",
              "| stage |" + "".join(f" {s['count']} images: s | GiB | stolen |" for s in sizes),
              "| --- |" + " ---: | ---: | ---: |" * len(sizes)]

    def stage_cells(size: Dict[str, Any], name: str) -> str:
        if name not in size:
            return " n/a | n/a | n/a |"
        stage = size[name]
        stolen = stage.get("steal")
        return (f" {stage['stage_wall_seconds']:.0f} | {stage['stage_peak_rss'] / 2 ** 30:.2f} |"
                f" {'n/a' if stolen is None else f'{stolen * 100:.0f}%'} |")

    for name in STAGES:
        lines.append(f"| {name} |" + "".join(stage_cells(size, name) for size in sizes))
    if train:
        cached = train["input_rate_one_thread"]
        lines += ["", "## On a GPU", ""]
        if "input_rate_files_one_thread" in train:
            per_core = train["input_rate_files_one_thread"]
            lines += [
                f"The Trainer's input function reading its records every epoch (gunzip -> "
                f"parse -> flip -> batch) delivered {train['input_rate_files']:,.0f} images/s "
                f"on this machine's {os.cpu_count()} cores and {per_core:,.0f} images/s on one "
                f"tf.data thread (the rate per core) at {p['image_size']} px. Feeding "
                f"{GPU_TARGET} images/s to a T4 would need about "
                f"{cores(GPU_TARGET / per_core)}, {2 * GPU_TARGET} images/s about "
                f"{cores(2 * GPU_TARGET / per_core)}."]
        else:
            lines += ["The input function's rate from the files every epoch was not measured "
                      "in this run (an older version of the benchmark)."]
        lines += [f"With the decoded examples cached in memory (the default, from the second "
                  f"epoch) it ran at {train['input_rate']:,.0f} images/s on all cores, "
                  f"{cached:,.0f} on one thread, averaged over {train['epochs']} epochs "
                  f"(the first one from the files). JPEGs are decoded once, by Transform, not "
                  f"per epoch."]
        if "transform" in main:
            decode = main["transform"]["plain_rate_one_thread"]
            lines += ["", f"For comparison, decoding and resizing the JPEGs and trimaps on the "
                      f"fly (what the tutorial does before its `.cache()`) runs at {decode:,.0f} "
                      f"images/s per core: {cores(GPU_TARGET / decode)} for "
                      f"{GPU_TARGET} images/s."]
        lines += ["", "Mixed precision (float16 compute, float32 logits and loss) and XLA are "
                  "`PipelineConfig.mixed_precision` / `xla` (`--mixed-precision`, `--xla`: "
                  "auto|on|off); auto turns each on iff the Trainer sees a GPU, so on this CPU "
                  "machine both are off and nothing above used them."]
    if reading.strip():
        lines += ["", "## Reading", "", reading.strip()]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="images in the main run")
    parser.add_argument("--memory-count", type=int, default=500,
                        help="images in the smaller run (memory growth); 0 skips it")
    parser.add_argument("--min-size", type=int, default=300, help="smallest generated side")
    parser.add_argument("--max-size", type=int, default=500, help="largest generated side")
    parser.add_argument("--architecture", default="unet_mobilenet_v2",
                        help="the model every stage trains (features.ARCHITECTURES)")
    parser.add_argument("--image-size", type=int, default=128,
                        help="square side the images are resized to (a multiple of 32)")
    parser.add_argument("--epochs", type=int, default=2,
                        help="training epochs of the pipeline and the plain script")
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
    args.argv = [a for a in (argv if argv is not None else sys.argv[1:])]

    if args.stage:  # inside a stage's own process
        result = STAGE_FUNCTIONS[args.stage](json.loads(args.params))
        with open(args.result, "w") as handle:
            json.dump(result, handle, indent=2)
        return 0

    os.makedirs(args.root, exist_ok=True)
    small = None
    if args.memory_count:
        small = load_size(args, args.memory_count) if args.report else run_size(
            args, args.memory_count)
    main_results = load_size(args, args.count) if args.report else run_size(
        args, args.count)
    if main_results is None:
        raise SystemExit(f"no results for {args.count} images under {args.root}")
    reading = open(args.reading).read() if args.reading else ""
    with open(args.out, "w") as handle:
        handle.write(render(main_results, small, args, reading))
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
