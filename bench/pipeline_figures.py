"""BENCHMARKS.md's figures: `compute` turns the stages' results into numbers, `render` words them.

`compute(sizes, project_epochs)` takes what bench/pipeline_bench.py recorded per dataset size
({"small"|"main"|"full": {"count", "params", <stage>: result}}) and returns plain data: the
table's rows (each with its reference, ratio, target and whether it was met), the per-component
times, the split of the end-to-end time by kind of work, the per-stage wall/memory/steal, and
the projection of the full-shape run to more epochs. `render` only formats that data (and the
run's facts) as Markdown. Standard library only.
"""

import datetime
import math
import os
import platform
from typing import Any, Dict, List, Optional

STAGE_ORDER = ("ingest", "pipeline", "seed", "plain", "transform", "train", "serving")
GPU_TARGET = 500  # images/s the tutorial's model trains at on a T4
DATA_COMPONENTS = ("ImportSchemaGen", "OxfordPetExampleGen", "StatisticsGen",
                   "ExampleValidator", "AnomaliesGate")
AFTER_EVALUATION = ("latest_blessed_model_resolver", "VersionedPusher", "EvaluationReport")
FLOWS = (("pipeline", "the pipeline"), ("seed", "the seed flow"), ("plain", "the tuned script"))


# ---------------------------------------------------------------- arithmetic

def row(figure: str, ours: Optional[float], unit: str, reference_label: str = "",
        reference: Optional[float] = None, target: Optional[tuple] = None,
        higher_is_better: bool = True) -> Dict[str, Any]:
    """One table row. `target` is (bound, "ratio"|"value"): met when the ratio (ours over the
    reference) or the value itself is at least (higher_is_better) or at most the bound."""
    ratio = ours / reference if ours is not None and reference else None
    met = None
    if target is not None:
        bound, on = target
        measured = ratio if on == "ratio" else ours
        if measured is not None:
            met = measured >= bound if higher_is_better else measured <= bound
    return {"figure": figure, "ours": ours, "unit": unit, "reference_label": reference_label,
            "reference": reference, "ratio": ratio, "met": met,
            "target": None if target is None else {
                "bound": target[0], "on": target[1],
                "op": ">=" if higher_is_better else "<="}}


def cores(needed: float) -> int:
    """Whole cores a share of cores rounds up to (at least one)."""
    return max(1, math.ceil(needed))


def flow_seconds(size: Dict[str, Any], flow: str) -> Optional[float]:
    """A flow's whole-process wall time: the scripts' stage processes, and for the pipeline its
    `local_runner.py` process alone (`wall_seconds`). The pipeline's stage also starts Python,
    clears the last run and reads the metadata store and the evaluation after the run, about 8 s
    (143.5 s against 135.6 at 2,000 images): the benchmark's bookkeeping, not the user's run."""
    result = size.get(flow, {})
    if flow == "pipeline" and result.get("wall_seconds") is not None:
        return result["wall_seconds"]
    return result.get("stage_wall_seconds")


def flow_epochs(size: Dict[str, Any], flow: str) -> List[Dict[str, float]]:
    """A flow's per-epoch {"train_seconds", "validation_seconds"}: the Trainer's own timings for
    the pipeline, the scripts' epoch callbacks for the others."""
    result = size.get(flow, {})
    if flow == "pipeline":
        return result.get("trainer_timings", {}).get("epochs", [])
    return result.get("epochs", [])


def projection(size: Dict[str, Any], epochs: int) -> List[Dict[str, Any]]:
    """Each flow's wall time at `epochs` epochs from its measured run: the last measured epoch
    (training and validation: what every later epoch repeats) times `epochs`, plus the fixed
    part (the measured wall time less its epochs at that rate; the first epoch's tracing and
    cache filling fall in it)."""
    rows = []
    for flow, label in FLOWS:
        wall, measured = flow_seconds(size, flow), flow_epochs(size, flow)
        if wall is None or not measured:
            continue
        per_epoch = measured[-1]["train_seconds"] + measured[-1]["validation_seconds"]
        fixed = wall - len(measured) * per_epoch
        rows.append({"flow": flow, "label": label, "measured_epochs": len(measured),
                     "measured_seconds": wall, "per_epoch_seconds": per_epoch,
                     "fixed_seconds": fixed, "epochs": epochs,
                     "projected_seconds": fixed + epochs * per_epoch})
    return rows


def component_seconds(pipeline: Dict[str, Any], *names: str) -> float:
    return sum(pipeline.get("components", {}).get(name, {}).get("seconds", 0.0)
               for name in names)


def validation_share() -> int:
    """The N of "one eval example in N" the pipeline and the tuned script validate on: the
    Trainer's default, which the benchmark runs at."""
    from trainer.settings import TrainerSettings  # repository module, no TensorFlow

    return TrainerSettings().validation_subsplits


def time_split(size: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The three flows' wall times by kind of work (needs the Trainer's timings)."""
    pipeline, timings = size.get("pipeline", {}), size.get("pipeline", {}).get(
        "trainer_timings")
    if not timings or "plain" not in size or "seed" not in size:
        return []

    def trained(flow: str, key: str) -> float:
        return sum(epoch[key] for epoch in flow_epochs(size, flow))

    trainer = component_seconds(pipeline, "Trainer")
    kinds = [
        ("ingest, statistics, schema check (ExampleGen .. AnomaliesGate)",
         component_seconds(pipeline, *DATA_COMPONENTS), 0.0, 0.0),
        ("Transform (decode + resize once, materialized)",
         component_seconds(pipeline, "Transform"), 0.0, 0.0),
        ("training epochs (the scripts decode and cache inside the first)",
         timings["train_seconds"], trained("seed", "train_seconds"),
         trained("plain", "train_seconds")),
        (f"validation after each epoch (the pipeline and the tuned script: one eval example in "
         f"{validation_share()}; the seed flow: a fifth of its test split)",
         timings["validation_seconds"], trained("seed", "validation_seconds"),
         trained("plain", "validation_seconds")),
        ("export: SavedModel with the Transform graph and 3 signatures",
         timings["export_seconds"], 0.0, 0.0),
        ("Trainer, the rest: input and model set-up, fit's own",
         trainer - timings["train_seconds"] - timings["validation_seconds"]
         - timings["export_seconds"], 0.0, 0.0),
        ("evaluation (TFMA Evaluator by slice; the scripts: model.evaluate)",
         component_seconds(pipeline, "Evaluator"), size["seed"]["evaluate_seconds"],
         size["plain"]["evaluate_seconds"]),
        ("resolver, pusher, evaluation report",
         component_seconds(pipeline, *AFTER_EVALUATION), 0.0, 0.0),
    ]
    walls = [flow_seconds(size, flow) for flow, _ in FLOWS]
    rest = [wall - sum(kind[index + 1] for kind in kinds) for index, wall in enumerate(walls)]
    kinds.append(("the rest: Python start, imports, pipeline compilation, metadata store, "
                  "model build", *rest))
    split = [{"work": work, "pipeline": a, "seed": b, "plain": c} for work, a, b, c in kinds]
    split.append({"work": "total", "pipeline": walls[0], "seed": walls[1], "plain": walls[2]})
    return split


def _between_sizes(small: Optional[Dict[str, Any]], main: Dict[str, Any], name: str,
                   examples: Optional[int]) -> Optional[Dict[str, float]]:
    """A component's per-example rate between two sizes, and its fixed cost."""
    if not small or not examples:
        return None
    big = main.get("pipeline", {}).get("components", {}).get(name)
    little = small.get("pipeline", {}).get("components", {}).get(name)
    if not big or not little:
        return None
    extra = big["seconds"] - little["seconds"]
    more = examples * (1 - small["count"] / main["count"])
    if extra <= 0:
        return None
    rate = more / extra
    return {"rate": rate, "fixed": big["seconds"] - examples / rate}


def _training_rows(train: Dict[str, Any]) -> List[Dict[str, Any]]:
    kind = "median_step_rate" if "trainer_median_step_rate" in train else "step_rate"
    rate = {label: train[f"{label}_{kind}"] for label in ("trainer", "memory", "tutorial")}
    overhead = 1 - rate["trainer"] / rate["memory"]
    steps = train.get("trainer_timed_steps")
    timed = (f", median of {steps} steps each" if kind == "median_step_rate" and steps else
             f", {steps} steps timed each" if steps else "")
    rows = [row(f"Training steps fed by the Trainer's input_fn (img/s); input overhead "
                f"{overhead * 100:.1f}%{timed}", rate["trainer"], "img/s",
                "same steps on in-memory tensors", rate["memory"], (0.95, "ratio")),
            row("Training step rate, project settings (img/s)", rate["trainer"], "img/s",
                "tutorial: tf.data from files + .cache(), model.fit", rate["tutorial"],
                (0.95, "ratio"))]
    if kind == "median_step_rate":
        mean = {label: train[f"{label}_step_rate"] for label in rate}
        rows.append(row(f"The same over all timed steps (mean, stalls included): input "
                        f"overhead {(1 - mean['trainer'] / mean['memory']) * 100:.1f}%, "
                        f"{mean['trainer'] / mean['tutorial']:.2f}x the tutorial",
                        mean["trainer"], "img/s", "in-memory", mean["memory"]))
    rows.append(row("First training step (tracing), s", train["trainer_first_step_seconds"],
                    "s", "tutorial's first step", train["tutorial_first_step_seconds"]))
    if "input_rate_files" in train:
        rows.append(row("Trainer input_fn alone, from the files every epoch (img/s)",
                        train["input_rate_files"], "img/s", "one tf.data thread",
                        train["input_rate_files_one_thread"]))
    rows.append(row("Trainer input_fn alone, as the Trainer runs it (img/s)",
                    train["input_rate"], "img/s", "one tf.data thread",
                    train["input_rate_one_thread"]))
    return rows


def _serving_rows(serving: Dict[str, Any], batch: int) -> List[Dict[str, Any]]:
    ours, predict, call = serving["serving"], serving["predict"], serving["call"]
    return [
        row("Serving p50, 1 JPEG per request (ms)", ours["p50"] * 1e3, "ms",
            "model.predict, 1 pre-decoded array", predict["p50"] * 1e3, (1.25, "ratio"),
            higher_is_better=False),
        row("Serving p95, 1 JPEG per request (ms)", ours["p95"] * 1e3, "ms",
            "model.predict, 1 pre-decoded array", predict["p95"] * 1e3),
        row("Serving p50 vs a direct model call (ms)", ours["p50"] * 1e3, "ms",
            "model(x), 1 pre-decoded array", call["p50"] * 1e3),
        row(f"Serving in batches of {batch} (img/s)", ours["batch_rate"], "img/s",
            "model.predict on pre-decoded arrays", predict["batch_rate"])]


def _end_to_end_rows(size: Dict[str, Any], where: str) -> List[Dict[str, Any]]:
    ours, seed, plain = (flow_seconds(size, flow) for flow, _ in FLOWS)
    if ours is None or seed is None:
        return []
    rows = [row(f"End to end vs the seed flow (ratio){where}", ours, "s",
                "the seed flow (bench/seed_flow.py), whole process", seed, (1.0, "ratio"),
                higher_is_better=False),
            row(f"Pipeline overhead over the seed flow (s){where}", ours - seed, "s",
                target=(0.0, "value"), higher_is_better=False)]
    if plain is not None:
        rows += [row(f"Pipeline overhead over the tuned script (s){where}", ours - plain, "s",
                     target=(60.0, "value"), higher_is_better=False),
                 row(f"End to end vs the tuned script (ratio){where}", ours, "s",
                     "the tuned plain script, whole process", plain)]
    return rows


def _memory_row(sizes: Dict[str, Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The largest stage's peak RSS across sizes (< 6 GiB), and whether the pipeline's grew at
    most linearly with the images from one size to the next."""
    peaks = [(size["count"], max(stage["stage_peak_rss"] for stage in size.values()
                                 if isinstance(stage, dict) and "stage_peak_rss" in stage),
              size.get("pipeline", {}).get("stage_peak_rss")) for size in sizes.values()]
    peaks = [peak for peak in sorted(peaks) if peak[2]]
    if not peaks:
        return None
    linear = all(b[2] / a[2] <= b[0] / a[0] for a, b in zip(peaks, peaks[1:]))
    largest = max(peak[1] for peak in peaks) / 2 ** 30
    result = row("Peak memory of the largest stage (GiB); the pipeline's at "
                 + ", ".join(f"{count:,}" for count, _, _ in peaks) + " images: "
                 + ", ".join(f"{pipeline / 2 ** 30:.2f}" for _, _, pipeline in peaks)
                 + (" (at most linear)" if linear else " (more than linear)"),
                 largest, "GiB", target=(6.0, "value"), higher_is_better=False)
    result["met"] = result["met"] and linear
    return result


def main_rows(sizes: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    main, small = sizes["main"], sizes.get("small")
    pipeline = main.get("pipeline", {})
    components = pipeline.get("components", {})
    plain = main.get("plain", {})
    rows: List[Dict[str, Any]] = []
    if "ingest" in main:
        rows.append(row("Ingest (ExampleGen's Beam job, examples/s)", main["ingest"]["beam_rate"],
                        "ex/s", "plain loop, 1 process", main["ingest"]["plain_rate"]))
    if "transform" in main and "Transform" in components:
        rows.append(row("Transform component (examples/s)",
                        main["transform"]["examples"] / components["Transform"]["seconds"],
                        "ex/s", "plain tf.data decode+resize+normalize",
                        main["transform"]["plain_rate"], (0.7, "ratio")))
    for name, examples in (("Transform", main.get("transform", {}).get("examples")),
                           ("Evaluator", plain.get("eval_images"))):
        between = _between_sizes(small, main, name, examples)
        if between:
            rows.append(row(f"{name}, per example between {small['count']} and "
                            f"{main['count']} images (fixed cost {between['fixed']:.0f} s left "
                            f"out)", between["rate"], "ex/s"))
    if "train" in main:
        rows += _training_rows(main["train"])
    if "Evaluator" in components and plain:
        rows.append(row("Evaluator component (examples/s)",
                        plain["eval_images"] / components["Evaluator"]["seconds"], "ex/s",
                        "Keras model.evaluate in the tuned script", plain["evaluate_rate"]))
    if "serving" in main:
        rows += _serving_rows(main["serving"], main["params"]["batch_size"])
    rows += _end_to_end_rows(main, "")
    accuracy = {flow: main.get(flow, {}).get("pixel_accuracy") for flow, _ in FLOWS}
    if accuracy["pipeline"] is not None and accuracy["seed"] is not None:
        rows.append(row("Pixel accuracy at the model's input size (the pipeline's Evaluator; "
                        f"the tuned script {accuracy['plain'] or float('nan'):.3f})",
                        accuracy["pipeline"], "", "the seed flow's model.evaluate",
                        accuracy["seed"]))
    memory = _memory_row(sizes)
    if memory:
        rows.append(memory)
    return rows


def full_rows(full: Dict[str, Any], projected: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    where = f" at the full dataset's shape, {full['params']['epochs']} epochs measured"
    rows = _end_to_end_rows(full, where)
    by_flow = {item["flow"]: item for item in projected}
    if "pipeline" in by_flow:
        epochs = by_flow["pipeline"]["epochs"]
        for flow, label, bound in (("seed", "seed flow", 1.0), ("plain", "tuned script", 1.05)):
            if flow in by_flow:
                rows.append(row(f"End to end vs the {label} at the full dataset's shape, "
                                f"{epochs} epochs projected (ratio)",
                                by_flow["pipeline"]["projected_seconds"], "s",
                                f"the {label}, projected the same way",
                                by_flow[flow]["projected_seconds"], (bound, "ratio"),
                                higher_is_better=False))
    return rows


def gpu_facts(main: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    train = main.get("train")
    if not train:
        return None
    facts = {"image_size": main["params"]["image_size"], "epochs": train["epochs"],
             "input_rate": train["input_rate"], "input_rate_one_thread":
                 train["input_rate_one_thread"], "target": GPU_TARGET}
    if "input_rate_files_one_thread" in train:
        per_core = train["input_rate_files_one_thread"]
        facts.update(files_rate=train["input_rate_files"], files_per_core=per_core,
                     cores_for_target=cores(GPU_TARGET / per_core),
                     cores_for_double=cores(2 * GPU_TARGET / per_core))
    if "transform" in main:
        decode = main["transform"]["plain_rate_one_thread"]
        facts.update(decode_per_core=decode, decode_cores=cores(GPU_TARGET / decode))
    return facts


def compute(sizes: Dict[str, Dict[str, Any]], project_epochs: int = 20) -> Dict[str, Any]:
    """Every figure BENCHMARKS.md shows, as data (see the module docstring)."""
    main = sizes["main"]
    pipeline = main.get("pipeline", {})
    figures: Dict[str, Any] = {
        "params": main["params"], "counts": {label: size["count"] for label, size in
                                             sizes.items()},
        "rows": main_rows(sizes), "split": time_split(main), "gpu": gpu_facts(main),
        "load_average": next((main[name]["load_average"] for name in reversed(STAGE_ORDER)
                              if name in main), None)}
    small_components = sizes.get("small", {}).get("pipeline", {}).get("components", {})
    figures["components"] = [
        {"name": name, "seconds": item["seconds"],
         "share": item["seconds"] / pipeline["wall_seconds"], "peak_rss": item["peak_rss"],
         "peak_rss_small": small_components.get(name, {}).get("peak_rss")}
        for name, item in sorted(pipeline.get("components", {}).items(),
                                 key=lambda kv: kv[1]["start"])]
    figures["pipeline_wall"] = pipeline.get("wall_seconds")
    figures["trainer_timings"] = pipeline.get("trainer_timings")
    figures["stages"] = [
        {"stage": name, "sizes": [
            None if name not in size else {
                "seconds": size[name]["stage_wall_seconds"],
                "peak_gib": size[name]["stage_peak_rss"] / 2 ** 30,
                "steal": size[name].get("steal")} for size in sizes.values()]}
        for name in STAGE_ORDER if any(name in size for size in sizes.values())]
    figures["stage_sizes"] = [(label, size["count"]) for label, size in sizes.items()]
    full = sizes.get("full")
    figures["projection"] = projection(full, project_epochs) if full else []
    figures["full_rows"] = full_rows(full, figures["projection"]) if full else []
    figures["full_split"] = time_split(full) if full else []
    return figures


# ---------------------------------------------------------------- words

def run_facts(args) -> Dict[str, Any]:
    """What the header says about the run: date, machine, versions, command, note."""
    import importlib.metadata as metadata

    import machine_facts  # bench/

    found = []
    for name in ("tfx", "tensorflow", "tf-keras", "keras", "tensorflow-transform",
                 "tensorflow-model-analysis", "apache-beam", "protobuf"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return {"date": datetime.date.today().isoformat(),
            "machine": machine_facts.describe(), "gpus": machine_facts.gpu_count(),
            "versions": ", ".join(found + [f"Python {platform.python_version()}"]),
            "command": " ".join(["bench/pipeline_bench.py"] + list(args.argv)),
            "note": args.note, "report": bool(args.report), "min_size": args.min_size,
            "max_size": args.max_size}


def _number(value: Optional[float], unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:,.1f} {unit}".rstrip() if abs(value) >= 0.05 or value == 0 else \
        f"{value:.3f} {unit}".rstrip()


def render_row(item: Dict[str, Any]) -> str:
    target = item["target"]
    target_text = ""
    if target:
        bound = f"{target['bound']:g}x" if target["on"] == "ratio" else \
            f"{target['bound']:g} {item['unit']}".rstrip()
        target_text = f"{target['op']} {bound}" + (
            "" if item["met"] is None else " (met)" if item["met"] else " (missed)")
    ours = _number(item["ours"], item["unit"])
    if item["unit"] == "" and item["ours"] is not None:
        ours = f"{item['ours']:.3f}"
    reference = "" if item["reference"] is None else (
        f"{item['reference']:.3f}" if item["unit"] == "" else
        _number(item["reference"], item["unit"]))
    ratio = "" if item["ratio"] is None else f"{item['ratio']:.2f}x"
    return (f"| {item['figure']} | {ours} | {item['reference_label']} | {reference} | {ratio} "
            f"| {target_text} |")


TABLE_HEAD = ["| figure | ours | reference | reference value | ratio | target |",
              "| --- | ---: | --- | ---: | ---: | --- |"]


def _header(figures: Dict[str, Any], facts: Dict[str, Any]) -> List[str]:
    p, counts = figures["params"], figures["counts"]
    encoder = "trained" if p["train_encoder"] else "frozen"
    lines = ["# Benchmarks: the pipeline against what a user would run instead", "",
             f"Written by `bench/pipeline_bench.py` on {facts['date']}.", "",
             f"- machine: {facts['machine']}; load average after the main run "
             f"{_number(figures['load_average'])}",
             f"- versions: {facts['versions']}",
             f"- data: generated images in the real layout (PNG trimaps): "
             f"{counts.get('main', 0):,} and {counts.get('small', 0):,} images of "
             f"{facts['min_size']}-{facts['max_size']} px (half trainval, half test); the full "
             f"dataset's shape, {counts.get('full', 0):,} images (trainval 3,680 / test 3,669, "
             f"sides 375-500 px, about 100 KB a JPEG)",
             f"- model: {p['architecture']}, {p['image_size']} px, {p['epochs']} epochs, batch "
             f"{p['batch_size']}, MobileNetV2 encoder {encoder} and not pretrained (ImageNet "
             f"weights cannot be downloaded here; a step costs the same with any weights)",
             f"- command: `$(bash scripts/ensure_env.sh)/bin/python {facts['command']}`"]
    if facts["note"]:
        lines.append(f"- note: {facts['note']}")
    lines += ["", "Each stage ran in its own process" + (
        "; this file was rewritten (--report) from the stage results under --root, which may "
        "come from separate passes: see the note." if facts["report"] else
        ", one after the other, in one run of the benchmark.")]
    return lines


def _components(figures: Dict[str, Any]) -> List[str]:
    items = figures["components"]
    if not items:
        return []
    counts = figures["counts"]
    small = "small" in counts
    lines = ["", "## End to end, per component", "",
             f"`local_runner.py` on {counts['main']:,} images, fresh pipeline root (no cache), "
             f"{figures['pipeline_wall']:.0f} s in all; the rest is Python's start, imports, "
             "pipeline compilation and the metadata store. Peak RSS sampled every 0.2 s over "
             "the whole process tree while the component ran.", "",
             "| component | seconds | share |" + (f" peak RSS GiB at {counts['small']:,} |"
                                                  if small else "")
             + f" peak RSS GiB at {counts['main']:,} |",
             "| --- | ---: | ---: | ---: |" + (" ---: |" if small else "")]

    def gib(value):
        return f"{value / 2 ** 30:.2f}" if value else "n/a"

    for item in items:
        lines.append(f"| {item['name']} | {item['seconds']:.1f} | {item['share'] * 100:.0f}% |"
                     + (f" {gib(item['peak_rss_small'])} |" if small else "")
                     + f" {gib(item['peak_rss'])} |")
    timings = figures.get("trainer_timings")
    if timings:
        lines += ["", "The Trainer's own timings (`model_run/trainer_timings.json`): set-up "
                  f"{timings['setup_seconds']:.1f} s, XLA check "
                  f"{timings['xla_check_seconds']:.1f} s, epochs "
                  + ", ".join(f"{e['train_seconds']:.1f} + {e['validation_seconds']:.1f} s"
                              for e in timings["epochs"])
                  + " (training + validation), fit's own time outside the epochs "
                  f"{timings['fit_other_seconds']:.1f} s, export "
                  f"{timings['export_seconds']:.1f} s; run_fn {timings['run_fn_seconds']:.1f} s."]
    return lines


def _split(split: List[Dict[str, Any]], title: str) -> List[str]:
    if not split:
        return []
    lines = ["", f"## {title}", "",
             "| work | pipeline s | seed flow s | tuned script s | pipeline − seed s |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for item in split:
        lines.append(f"| {item['work']} | {item['pipeline']:.1f} | {item['seed']:.1f} | "
                     f"{item['plain']:.1f} | {item['pipeline'] - item['seed']:+.1f} |")
    return lines


def _projection(figures: Dict[str, Any]) -> List[str]:
    items = figures["projection"]
    if not items:
        return []
    epochs = items[0]["epochs"]
    lines = ["", f"## The full dataset's shape: {figures['counts']['full']:,} images, "
             f"{items[0]['measured_epochs']} epochs measured, {epochs} projected", "",
             f"Projected = fixed + {epochs} × per epoch. Per epoch: the last measured epoch's "
             "training and validation seconds (the pipeline's from the Trainer's "
             "`trainer_timings.json`, the scripts' from an epoch callback): every later epoch "
             "repeats that work. Fixed: the measured wall time less its epochs at that rate "
             "(start, imports, checks, Transform, the first epoch's tracing and cache filling, "
             "export, evaluation, report).", "",
             "| flow | measured s | per epoch s | fixed s | projected s |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for item in items:
        lines.append(f"| {item['label']} | {item['measured_seconds']:.0f} | "
                     f"{item['per_epoch_seconds']:.1f} | {item['fixed_seconds']:.0f} | "
                     f"{item['projected_seconds']:.0f} |")
    if figures["full_rows"]:
        lines += [""] + TABLE_HEAD + [render_row(item) for item in figures["full_rows"]]
    return lines + _split(figures["full_split"], "The full dataset's shape, by kind of work "
                                                 "(measured epochs)")


def _stages(figures: Dict[str, Any]) -> List[str]:
    sizes = figures["stage_sizes"]
    lines = ["", "## Per stage: wall time, peak memory, CPU stolen", "",
             "Peak RSS of each stage's process (and the processes it waited for), from "
             "`wait4`. CPU stolen: the share of the machine's CPU time that the hypervisor "
             "gave to other virtual machines while the stage ran (`steal` in /proc/stat); the "
             "stages it fell on ran slower by about that much.", "",
             "| stage |" + "".join(f" {count:,} images: s | GiB | stolen |"
                                   for _, count in sizes),
             "| --- |" + " ---: | ---: | ---: |" * len(sizes)]
    for item in figures["stages"]:
        cells = []
        for cell in item["sizes"]:
            if cell is None:
                cells.append(" n/a | n/a | n/a |")
                continue
            stolen = "n/a" if cell["steal"] is None else f"{cell['steal'] * 100:.0f}%"
            cells.append(f" {cell['seconds']:.0f} | {cell['peak_gib']:.2f} | {stolen} |")
        lines.append(f"| {item['stage']} |" + "".join(cells))
    return lines


def _gpu(figures: Dict[str, Any], facts: Dict[str, Any]) -> List[str]:
    gpu = figures["gpu"]
    lines = ["", "## On a GPU", "",
             ("Nothing here ran on a GPU: this machine has none. " if not facts["gpus"] else
              f"This machine has {facts['gpus']} GPU(s). ")
             + "Not measured on a GPU, so unknown: the training step rate with mixed precision "
             "(float16 compute, float32 logits and loss) and with XLA, which "
             "`PipelineConfig.trainer.mixed_precision` / `xla` (`--mixed-precision`, `--xla`: "
             "auto|on|off) turn on by themselves when the Trainer sees a GPU; whether XLA "
             "compiles the U-Net's steps with that GPU's CUDA toolkit; MirroredStrategy on "
             "several GPUs. Measured on the CPU instead: the XLA fallback (a step XLA cannot "
             "compile is retried without XLA, one line in the log, `model_info.json` "
             "`xla.fallback`; tests/test_xla_fallback.py forces a real compile failure), and "
             "the input rates below, which say how many cores a GPU's appetite needs."]
    if not gpu:
        return lines
    if "files_per_core" in gpu:
        lines += ["", f"The Trainer's input function reading its records every epoch (gunzip -> "
                  f"parse -> flip -> batch) delivered {gpu['files_rate']:,.0f} images/s on "
                  f"this machine's {os.cpu_count()} cores and {gpu['files_per_core']:,.0f} "
                  f"images/s on one tf.data thread (the rate per core) at {gpu['image_size']} "
                  f"px. Feeding {gpu['target']} images/s to a T4 would need about "
                  f"{gpu['cores_for_target']} core(s), {2 * gpu['target']} images/s about "
                  f"{gpu['cores_for_double']}."]
    lines += [f"With the decoded examples cached in memory (the default, from the second epoch) "
              f"it ran at {gpu['input_rate']:,.0f} images/s on all cores, "
              f"{gpu['input_rate_one_thread']:,.0f} on one thread, averaged over "
              f"{gpu['epochs']} epochs (the first one from the files). JPEGs are decoded once, "
              f"by Transform, not per epoch."]
    if "decode_per_core" in gpu:
        lines += ["", f"For comparison, decoding and resizing the JPEGs and trimaps on the fly "
                  f"(what the tutorial does before its `.cache()`) runs at "
                  f"{gpu['decode_per_core']:,.0f} images/s per core: {gpu['decode_cores']} "
                  f"core(s) for {gpu['target']} images/s."]
    return lines


def render(figures: Dict[str, Any], facts: Dict[str, Any], reading: str = "") -> str:
    """BENCHMARKS.md: the figures as computed, in words and tables; nothing computed here
    beyond formatting."""
    lines = _header(figures, facts) + [""] + TABLE_HEAD
    lines += [render_row(item) for item in figures["rows"]]
    lines += _components(figures)
    lines += _split(figures["split"], "Where the time goes, by kind of work")
    lines += _projection(figures)
    lines += _stages(figures)
    lines += _gpu(figures, facts)
    if reading.strip():
        lines += ["", "## Reading", "", reading.strip()]
    return "\n".join(lines) + "\n"
