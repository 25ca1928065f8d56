"""Both architectures, with and without class weights, through the whole pipeline on demo data.

    ENV=$(scripts/ensure_env.sh)
    $ENV/bin/python bench/compare_architectures.py            # 4 runs, then bench/ARCHITECTURES.md
    $ENV/bin/python bench/compare_architectures.py --report   # only rewrite the table

Each combination runs `local_runner.py --demo` in its own work directory,
<root>/pass-<n>/<combination>/ (the demo data is generated once, in <root>/demo-data, and
shared), with the same epochs, image size, batch size and seed, no pretrained weights and no
gate; `--passes 2` runs everything twice, since training on the CPU is not bit-reproducible. The per-class pixel accuracy and IoU come from the Evaluator's
output (pipeline/run_summary.py `overall_metrics`), the Trainer's wall time from the metadata
store (`summarize(...).component("Trainer").seconds`). Each run's numbers are kept in
<root>/pass-<n>/<combination>/result.json, so --report rewrites the table without training.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

COMBINATIONS = [  # (architecture, class weights)
    ("unet_mobilenet_v2", None), ("unet_mobilenet_v2", "auto"),
    ("unet_xception", None), ("unet_xception", "auto"),
]
CLASSES = ("pet", "background", "border")


def name_of(architecture: str, class_weights: Optional[str]) -> str:
    return f"{architecture}-{'weighted' if class_weights else 'unweighted'}"


def run_one(pass_dir: str, data_dir: str, architecture: str, class_weights: Optional[str],
            args: argparse.Namespace) -> Dict[str, Any]:
    from pipeline import run_summary
    from pipeline.config import METADATA_FILE, PipelineConfig
    from runs import evaluation

    work_dir = os.path.join(pass_dir, name_of(architecture, class_weights))
    shutil.rmtree(work_dir, ignore_errors=True)  # a fresh pipeline root: nothing cached
    os.makedirs(work_dir)
    os.symlink(data_dir, os.path.join(work_dir, "demo-data"))
    command = [sys.executable, os.path.join(REPO, "local_runner.py"), "--demo",
               "--demo-count", str(args.count), "--work-dir", work_dir,
               "--architecture", architecture, "--epochs", str(args.epochs),
               "--image-size", str(args.image_size), "--batch-size", str(args.batch_size),
               "--seed", str(args.seed), "--encoder-weights", "none",
               "--min-pixel-accuracy", "0"]
    if class_weights:
        command += ["--class-weights", class_weights]
    print(f"== {name_of(architecture, class_weights)}: {' '.join(command[1:])}", flush=True)
    start = time.time()
    with open(os.path.join(work_dir, "run.log"), "w") as log:
        code = subprocess.call(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.time() - start
    if code:
        raise SystemExit(f"{name_of(architecture, class_weights)} failed (exit {code}); see "
                         f"{os.path.join(work_dir, 'run.log')}")
    summary = run_summary.summarize(os.path.join(work_dir, "pipeline_root", METADATA_FILE),
                                    PipelineConfig.__dataclass_fields__["pipeline_name"].default)
    result = {
        "architecture": architecture, "class_weights": class_weights,
        "model_info": summary.model_info,
        "metrics": evaluation.overall_metrics(summary.evaluation_uri),
        "trainer_seconds": summary.component("Trainer").seconds,
        "transform_seconds": summary.component("Transform").seconds,
        "pipeline_seconds": seconds,
        "load_average_after": os.getloadavg(),
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    with open(os.path.join(work_dir, "result.json"), "w") as handle:
        json.dump(result, handle, indent=2)
    print(f"   Trainer {result['trainer_seconds']:.0f} s, pixel accuracy "
          f"{result['metrics'].get('pixel_accuracy', float('nan')):.4f}", flush=True)
    return result


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _number(value: Optional[float], digits: int = 3) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def render(results: List[Dict[str, Any]], args: argparse.Namespace, note: str,
           reading: str = "") -> str:
    header = ["model", "class weights", "pass", "parameters", "pixel acc.", "mean IoU"]
    for name in CLASSES:
        header += [f"{name} acc.", f"{name} IoU"]
    header += ["Trainer s", "pipeline s", "load after"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for result in results:
        metrics, info = result["metrics"], result["model_info"]
        weights = info.get("class_weights")
        shown = "none" if not weights else (
            f"{result['class_weights']}: " + " / ".join(f"{w:.2f}" for w in weights))
        row = [result["architecture"], shown, str(result["pass"]), f"{info.get('parameters', 0):,}",
               _number(metrics.get("pixel_accuracy")), _number(metrics.get("mean_iou"))]
        for name in CLASSES:
            row += [_number(metrics.get(f"{name}_pixel_accuracy")),
                    _number(metrics.get(f"{name}_iou"))]
        row += [f"{result['trainer_seconds']:.0f}", f"{result['pipeline_seconds']:.0f}",
                f"{result['load_average_after'][0]:.1f}"]
        lines.append("| " + " | ".join(row) + " |")
    import tensorflow as tf

    return "\n".join([
        "# U-Net architectures on the demo data",
        "",
        f"Generated by `bench/compare_architectures.py` on "
        f"{max(r['finished'] for r in results)[:10]}: "
        f"`local_runner.py --demo` ({args.count} generated images, half train / half eval), "
        f"{args.image_size} px, {args.epochs} epochs, batch {args.batch_size}, seed "
        f"{args.seed}, no pretrained weights (`--encoder-weights none`: the MobileNetV2 "
        f"encoder starts random and is trained), each run in a fresh pipeline root.",
        "",
        f"Machine: {os.cpu_count()} cores, {cpu_model()}, no GPU; Python "
        f"{platform.python_version()}, TensorFlow {tf.__version__}."
        f"{(' ' + note) if note else ''}",
        "",
        "Metrics are the Evaluator's on the eval split (every eval pixel): pixel accuracy, "
        "mean IoU, and per class the pixel accuracy (recall) and IoU. \"Trainer s\" is the "
        "Trainer component's wall time from the metadata store (model building, tracing, "
        "training, export); \"pipeline s\" the whole `local_runner.py` process; \"load after\" the "
        "1-minute load average when the run ended (2 cores: above 2 means waiting). Class weights "
        "`auto` are the training masks' inverse pixel frequencies (pet / background / border, "
        "mean 1), computed by Transform's analyzer.",
        "",
        *lines,
        "",
        *(["## Reading", "", reading.strip(), ""] if reading.strip() else []),
    ])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default="/tmp/petseg-architectures",
                        help="one work directory per combination goes here")
    parser.add_argument("--count", type=int, default=400, help="demo images")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs per run")
    parser.add_argument("--image-size", type=int, default=128, help="square side, px")
    parser.add_argument("--batch-size", type=int, default=16, help="training batch size")
    parser.add_argument("--seed", type=int, default=0, help="seed of data and training")
    parser.add_argument("--passes", type=int, default=1,
                        help="run every combination this many times (pass-1, pass-2...)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this combination (e.g. unet_xception-weighted), "
                             "repeatable; the table takes the others' earlier result.json")
    parser.add_argument("--report", action="store_true",
                        help="train nothing: rewrite the table from earlier result.json files")
    parser.add_argument("--note", default="", help="a sentence for the machine line, e.g. "
                                                   "that other work shared the CPU")
    parser.add_argument("--reading", metavar="FILE",
                        help="markdown to add under '## Reading' (what the numbers say)")
    parser.add_argument("--output", default=os.path.join(REPO, "bench", "ARCHITECTURES.md"),
                        help="the markdown table to write")
    args = parser.parse_args(argv)

    from oxford_pet import sources

    data_dir = os.path.join(args.root, "demo-data")
    if not args.report:
        sources.ensure_demo_data(data_dir, args.count)
    results = []
    for architecture, class_weights in COMBINATIONS:
        name = name_of(architecture, class_weights)
        for number in range(1, args.passes + 1):
            pass_dir = os.path.join(args.root, f"pass-{number}")
            if args.report or (args.only and name not in args.only):
                path = os.path.join(pass_dir, name, "result.json")
                if not os.path.isfile(path):
                    continue
                with open(path) as handle:
                    result = json.load(handle)
            else:
                result = run_one(pass_dir, data_dir, architecture, class_weights, args)
            results.append(dict(result, **{"pass": number}))
    if not results:
        raise SystemExit(f"no results under {args.root}")
    with open(args.output, "w") as handle:
        reading = open(args.reading).read() if args.reading else ""
        handle.write(render(results, args, args.note, reading))
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
