"""Two ways of running one component on the same inputs: the pipeline's against the one it replaced.

On a finished local run's pipeline root (`local_runner.py ... --work-dir W`: W/pipeline_root),
each variant runs the component's TFX executor in its own process, alternating, `--repeats`
times; the table gives the median seconds of the executor's `Do`, the metrics where they must be
equal, the largest peak resident memory of its processes, and the CPU stolen by the hypervisor
during the variant's runs.

- Evaluator, label from the raw trimap (the pipeline's EvalConfig: no label_key; the pixel
  metrics resize the trimap as Transform does, trainer/metrics.py) against the same with TFMA
  also running the export's Transform signature on every example for a label (what the
  EvalConfig before asked; the metrics no longer read that label).
- Trainer, `run_fn` named (`trainer.train.run_fn`, the pipeline's) against the same function
  loaded from its file (TFX's `module_file`, what the user-module wheel installed and imported).

    $(scripts/ensure_env.sh)/bin/python bench/component_ab.py --root W/pipeline_root
"""

import argparse
import datetime
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VARIANTS = {
    "evaluator_raw_trimap": "Evaluator, label from the raw trimap (the pipeline's)",
    "evaluator_transform_signature": "Evaluator, also running the Transform signature for a "
                                     "label, as the EvalConfig before did",
    "trainer_named": "Trainer, run_fn by name (the pipeline's)",
    "trainer_module_file": "Trainer, run_fn from its module file (before)",
}


def latest(root: str, *parts: str) -> str:
    """The newest execution's directory of a component's output under `root`."""
    found = glob.glob(os.path.join(root, *parts, "*"))
    if not found:
        raise SystemExit(f"no {os.path.join(*parts)} under {root}: run the pipeline first")
    return max(found, key=lambda path: int(os.path.basename(path)))


def artifact(cls, uri: str, splits=None):
    made = cls()
    made.uri = uri
    if splits:
        made.split_names = json.dumps(splits)
    return made


def run_evaluator(root: str, out: str, transform_label: bool) -> dict:
    import tensorflow_model_analysis as tfma
    from tfx.components.evaluator import executor
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from pipeline.config import PipelineConfig
    from pipeline.pipeline import eval_config
    from trainer import features

    config = eval_config(PipelineConfig(data_dir=out, pipeline_root=out, serving_dir=out))
    if transform_label:
        config.model_specs[0].preprocessing_function_names.append(features.TRANSFORM_SIGNATURE)
        config.model_specs[0].label_key = features.MASK_XF
    outputs = {"evaluation": [artifact(standard_artifacts.ModelEvaluation, f"{out}/evaluation")],
               "blessing": [artifact(standard_artifacts.ModelBlessing, f"{out}/blessing")]}
    inputs = {"examples": [artifact(standard_artifacts.Examples,
                                    latest(root, "OxfordPetExampleGen", "examples"),
                                    ["train", "eval"])],
              "model": [artifact(standard_artifacts.Model, latest(root, "Trainer", "model"))]}
    start = time.perf_counter()
    executor.Executor(executor.Executor.Context(beam_pipeline_args=[])).Do(
        inputs, outputs, {"eval_config": proto_utils.proto_to_json(config),
                          "example_splits": json.dumps(["eval"]),
                          "fairness_indicator_thresholds": "null"})
    seconds = time.perf_counter() - start
    values = {}
    for metrics in tfma.load_metrics(f"{out}/evaluation"):
        if not metrics.slice_key.single_slice_keys:
            for item in metrics.metric_keys_and_values:
                if item.key.name in ("pixel_accuracy", "native_pixel_accuracy"):
                    values[item.key.name] = item.value.double_value.value
    return {"seconds": seconds, "metrics": values}


def run_trainer(root: str, out: str, module_file: bool) -> dict:
    from tfx.components.trainer import executor
    from tfx.proto import trainer_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from trainer import features
    from trainer.settings import TrainerSettings

    examples = latest(root, "Transform", "transformed_examples")
    with open(os.path.join(latest(root, "Trainer", "model"), "Format-Serving",
                           features.MODEL_INFO_FILE)) as handle:
        size = json.load(handle)["image_size"]
    settings = TrainerSettings(epochs=1, batch_size=16, image_size=size, encoder_weights="none")
    properties = {
        "train_args": proto_utils.proto_to_json(trainer_pb2.TrainArgs(splits=["train"])),
        "eval_args": proto_utils.proto_to_json(trainer_pb2.EvalArgs(splits=["eval"])),
        "custom_config": json.dumps(settings.to_custom_config())}
    if module_file:
        properties["module_file"] = os.path.join(REPO, "trainer", "train.py")
    else:
        properties["run_fn"] = "trainer.train.run_fn"
    inputs = {"examples": [artifact(standard_artifacts.Examples, examples, ["train", "eval"])],
              "transform_graph": [artifact(standard_artifacts.TransformGraph,
                                           latest(root, "Transform", "transform_graph"))],
              "schema": [artifact(standard_artifacts.Schema,
                                  latest(root, "ImportSchemaGen", "schema"))]}
    outputs = {"model": [artifact(standard_artifacts.Model, f"{out}/model")],
               "model_run": [artifact(standard_artifacts.ModelRun, f"{out}/run")]}
    start = time.perf_counter()
    executor.GenericExecutor().Do(inputs, outputs, properties)
    seconds = time.perf_counter() - start
    with open(f"{out}/run/trainer_timings.json") as handle:
        train = json.load(handle)["train_seconds"]
    return {"seconds": seconds, "metrics": {"train_seconds": train}}


def run_variant(name: str, root: str) -> dict:
    from pipeline.process_tuning import tune_this_process

    tune_this_process()  # as local_runner.py's process is
    out = tempfile.mkdtemp(prefix=f"ab-{name}-")
    if name.startswith("evaluator"):
        return run_evaluator(root, out, transform_label=name.endswith("signature"))
    return run_trainer(root, out, module_file=name.endswith("file"))


def steal_ticks() -> int:
    with open("/proc/stat") as handle:
        fields = handle.readline().split()[1:]
    return int(fields[7]), sum(int(value) for value in fields)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True, help="a finished run's pipeline root")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant")
    parser.add_argument("--only", choices=["evaluator", "trainer"], help="one component only")
    parser.add_argument("--out", default=os.path.join(HERE, "COMPONENT_AB.md"),
                        help="the Markdown table to write")
    inner = parser.add_argument_group("internal (each run is this script in its own process)")
    inner.add_argument("--variant", choices=VARIANTS, help="run only this variant, once")
    inner.add_argument("--result", help="where that run writes its result, JSON")
    args = parser.parse_args()
    sys.path.insert(0, REPO)
    if args.variant:  # one run, in this process
        import resource

        result = run_variant(args.variant, os.path.abspath(args.root))
        result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
        with open(args.result, "w") as handle:
            json.dump(result, handle)
        return 0
    names = [name for name in VARIANTS if not args.only or name.startswith(args.only)]
    results = {name: [] for name in names}
    stolen = {name: [0, 0] for name in names}
    for repeat in range(args.repeats):
        for name in names:
            result = os.path.join(tempfile.mkdtemp(), "result.json")
            before = steal_ticks()
            subprocess.run([sys.executable, __file__, "--root", args.root, "--variant", name,
                            "--result", result], check=True, cwd=REPO,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            after = steal_ticks()
            stolen[name] = [stolen[name][0] + after[0] - before[0],
                            stolen[name][1] + after[1] - before[1]]
            with open(result) as handle:
                results[name].append(json.load(handle))
            print(f"{name} run {repeat + 1}: {results[name][-1]['seconds']:.1f} s", flush=True)
    write(args, names, results, stolen)
    return 0


def write(args, names, results, stolen) -> None:
    import machine_facts  # bench/

    lines = ["# One component two ways, on the same inputs\n",
             f"Written by `bench/component_ab.py` on {datetime.date.today()}.\n",
             f"- machine: {machine_facts.describe()}; load average after the runs "
             f"{os.getloadavg()[0]:.1f}",
             f"- inputs: the finished run under `{args.root}`",
             f"- command: `bench/component_ab.py --root {args.root} --repeats {args.repeats}`",
             "", "| variant | median s | runs s | peak RSS GiB | metrics | CPU stolen |",
             "| --- | ---: | --- | ---: | --- | ---: |"]
    for name in names:
        runs = [run["seconds"] for run in results[name]]
        metrics = results[name][-1]["metrics"]
        shown = ", ".join(f"{key} {value:.6g}" for key, value in sorted(metrics.items()))
        share = stolen[name][0] / max(stolen[name][1], 1)
        peak = max(run["peak_rss_gib"] for run in results[name])
        lines.append(f"| {VARIANTS[name]} | {statistics.median(runs):.1f} | "
                     f"{', '.join(f'{value:.1f}' for value in runs)} | {peak:.2f} | {shown} | "
                     f"{share:.0%} |")
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
