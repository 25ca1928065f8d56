"""Runs the pet segmentation pipeline on this machine (LocalDagRunner, Beam DirectRunner).

    python local_runner.py                             # the official archives, downloaded
    python local_runner.py --demo                      # generated data in the real layout
    python local_runner.py --data-dir /data/oxford-iiit-pet
    python local_runner.py --tfds                      # a prepared TFDS oxford_iiit_pet

Metadata goes to SQLite under the pipeline root; a rerun reuses every component whose inputs
did not change (TFX cache). The console shows each component's start and end and the
project's own progress lines; everything else goes to <pipeline-root>/logs/run-<time>.log
(--verbose shows it as well). At the end it prints what it pushed, or why not, and where the
evaluation is.
"""

import argparse
import glob
import os
import sys
import time
from typing import List, Optional

from oxford_pet import download, layout  # light: no TensorFlow, so --help stays fast

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_WORK_DIR = os.path.join(HERE, "workdir")
# None: Beam's DirectRunner defaults (in_memory, 1 worker). With any Beam argument TFX builds an
# sdist of itself for each Beam component, which the DirectRunner never reads (BENCHMARKS.md).
DEFAULT_BEAM_ARGS: List[str] = []
DEMO_COUNT = 400
# Exit codes (also in --help): a scheduler can tell "fix the config" from "try again later".
EXIT_FAILED = 1  # a component or the download failed
EXIT_BAD_CONFIG = 2  # a flag, a path or the dataset is wrong: nothing ran
EXIT_LOCKED = 75  # EX_TEMPFAIL: another run holds the pipeline root


def build_parser() -> argparse.ArgumentParser:
    from pipeline import flags
    from pipeline.config import PipelineConfig

    defaults = PipelineConfig.__dataclass_fields__
    parser = argparse.ArgumentParser(
        prog="python local_runner.py",
        description="Train, evaluate and push the pet segmentation U-Net with TFX on this "
                    "machine.",
        epilog=f"Exit codes: 0 done (pushed or not), {EXIT_FAILED} a component or the "
               f"download failed, {EXIT_BAD_CONFIG} bad flags, paths or dataset (nothing ran), "
               f"{EXIT_LOCKED} another run holds the pipeline root (try again later).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data = parser.add_argument_group(
        "data (default: download the official Oxford-IIIT Pet archives, verify, extract)")
    source = data.add_mutually_exclusive_group()
    source.add_argument("--data-dir", help="the dataset as you have it: a directory as the "
                        "archives unpack it (images/, annotations/trimaps/, "
                        "annotations/trainval.txt, test.txt), or one holding images.tar.gz and "
                        "annotations.tar.gz")
    source.add_argument("--demo", action="store_true",
                        help="use generated demo data in the real layout, written to "
                             "<work-dir>/demo-data on first use (no network needed)")
    source.add_argument("--tfds", action="store_true",
                        help="read a prepared TFDS oxford_iiit_pet (version 4) from "
                             "--tfds-data-dir")
    data.add_argument("--demo-count", type=int, default=DEMO_COUNT,
                      help="images in the generated demo dataset")
    data.add_argument("--download-dir", help="where the official archives are downloaded and "
                      "extracted (default: <work-dir>/downloads)")
    data.add_argument("--base-url", default=download.DEFAULT_BASE_URL,
                      help="where to download the archives from (a mirror works)")
    data.add_argument("--tfds-data-dir", default=os.path.expanduser("~/tensorflow_datasets"),
                      help="TFDS data directory holding oxford_iiit_pet/4.x.y/")
    data.add_argument("--max-quarantined-fraction", type=float,
                      default=defaults["max_quarantined_fraction"].default,
                      help="stop ingest when more than this share of a split cannot be used "
                           "(the reasons go to the quarantine report)")
    data.add_argument("--span-pattern", default=None, metavar="PATTERN",
                      help="the data directory holds numbered spans, each in the dataset's "
                           "layout, e.g. 'span-{SPAN}' for DIR/span-1/, DIR/span-2/: train on "
                           "the latest span")
    paths = parser.add_argument_group("where results go")
    paths.add_argument("--work-dir", default=DEFAULT_WORK_DIR,
                       help="default parent of the pipeline root, serving dir and demo data")
    paths.add_argument("--pipeline-root", help="artifacts and metadata.sqlite "
                       "(default: <work-dir>/pipeline_root)")
    paths.add_argument("--serving-dir", help="pushed models go to "
                       "<serving-dir>/<model-name>/<version>/ (default: <work-dir>/serving)")
    paths.add_argument("--model-name", default=defaults["model_name"].default,
                       help="the model's directory under the serving dir")
    paths.add_argument("--pipeline-name", default=defaults["pipeline_name"].default,
                       help="the pipeline's name in the metadata store (runs and cache)")
    flags.add_training_flags(parser)
    report = parser.add_argument_group("evaluation report (report.html, report.md)")
    report.add_argument("--report-max-examples", type=int,
                        default=defaults["report_max_examples"].default,
                        help="score at most this many eval examples for the sample grid")
    report.add_argument("--report-samples", type=int, default=defaults["report_samples"].default,
                        help="best and worst examples shown in the report, each")
    run = parser.add_argument_group("execution")
    run.add_argument("--beam-arg", action="append", dest="beam_args", metavar="ARG",
                     help="a Beam pipeline argument, repeatable (default: none, Beam's "
                          "DirectRunner in_memory with 1 worker)")
    run.add_argument("--no-cache", action="store_true",
                     help="rerun every component even if its inputs did not change")
    run.add_argument("--verbose", action="store_true",
                     help="show every TFX, Beam, TensorFlow and pip line on the console too "
                          "(they always go to <pipeline-root>/logs/run-<time>.log)")
    run.add_argument("--wait-for-lock", type=float, default=0, metavar="SECONDS",
                     help="when another run holds the pipeline root, wait up to this long for "
                          "it to end; 0: stop at once with exit code 75")
    return parser


def config_from_args(args: argparse.Namespace, data_dir: Optional[str] = None):
    """The PipelineConfig for these flags; `data_dir` is where `prepare_data` put the data."""
    from pipeline import flags
    from pipeline.config import PipelineConfig

    work_dir = os.path.abspath(args.work_dir)
    return PipelineConfig(
        data_dir=os.path.abspath(data_dir or args.data_dir or work_dir),
        data_source="tfds" if args.tfds else "dir",
        max_quarantined_fraction=args.max_quarantined_fraction,
        pipeline_root=os.path.abspath(args.pipeline_root or os.path.join(work_dir,
                                                                         "pipeline_root")),
        serving_dir=os.path.abspath(args.serving_dir or os.path.join(work_dir, "serving")),
        pipeline_name=args.pipeline_name, model_name=args.model_name,
        span_pattern=args.span_pattern, **flags.training_settings(args),
        report_max_examples=args.report_max_examples, report_samples=args.report_samples,
        beam_args=args.beam_args or list(DEFAULT_BEAM_ARGS),
        enable_cache=not args.no_cache)


def ensure_demo_data(data_dir: str, count: int) -> None:
    """Generates the demo dataset unless a complete one with the same count is there."""
    from oxford_pet import demo

    marker = os.path.join(data_dir, ".demo-complete")
    if os.path.exists(marker) and open(marker).read().strip() == str(count):
        print(f"Demo data: {count} images in {data_dir} (already generated)", flush=True)
        return
    print(f"Demo data: generating {count} images in {data_dir}", flush=True)
    demo.make_demo_data(data_dir, count, progress=lambda done, total: done % 100 == 0 and
                        print(f"  {done}/{total}", flush=True))
    with open(marker, "w") as handle:
        handle.write(str(count))


def find_tfds_dataset(tfds_data_dir: str) -> str:
    """The newest prepared oxford_iiit_pet 4.x.y directory under a TFDS data directory."""
    versions = sorted(glob.glob(os.path.join(tfds_data_dir, "oxford_iiit_pet", "4.*")),
                      key=lambda path: [int(p) for p in os.path.basename(path).split(".")
                                        if p.isdigit()])
    if not versions:
        raise ValueError(f"no prepared TFDS oxford_iiit_pet 4.x under {tfds_data_dir}: run "
                         "`tfds build oxford_iiit_pet` there first, or pass --tfds-data-dir")
    return versions[-1]


def check_source(args: argparse.Namespace) -> None:
    """ValueError for a data source that is missing or empty, where that shows without
    downloading or writing anything."""
    if args.tfds:
        find_tfds_dataset(args.tfds_data_dir)
    elif args.data_dir and not download.has_archives(args.data_dir):
        layout.check_dataset(os.path.abspath(args.data_dir), args.span_pattern)


def prepare_data(args: argparse.Namespace) -> str:
    """Makes the chosen data source available on disk; returns the data directory."""
    work_dir = os.path.abspath(args.work_dir)
    download_dir = os.path.abspath(args.download_dir or os.path.join(work_dir, "downloads"))
    if args.demo:
        data_dir = os.path.join(work_dir, "demo-data")
        ensure_demo_data(data_dir, args.demo_count)
        return data_dir
    if args.tfds:
        return find_tfds_dataset(args.tfds_data_dir)
    if args.data_dir:
        data_dir = os.path.abspath(args.data_dir)
        if (os.path.isdir(data_dir) and download.has_archives(data_dir)
                and not os.path.isdir(os.path.join(data_dir, "annotations"))):
            return download.prepare_from_archives(
                data_dir, os.path.join(download_dir, "oxford-iiit-pet"))
        return data_dir
    print(f"Data: the official Oxford-IIIT Pet archives from {args.base_url} "
          f"(into {download_dir}; --demo runs offline)", flush=True)
    return download.fetch_official(download_dir, args.base_url)


def main(argv: Optional[List[str]] = None) -> int:
    from pipeline import config as pipeline_config
    from pipeline import run_lock

    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)  # every value is checked before anything is downloaded
        pipeline_config.check_output_dirs(config)
        if args.wait_for_lock < 0:
            raise ValueError(f"--wait-for-lock must be 0 or more seconds, got "
                             f"{args.wait_for_lock:g}")
        check_source(args)  # before creating anything
        os.makedirs(config.pipeline_root, exist_ok=True)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    try:
        with run_lock.hold(run_lock.run_lock_path(config.pipeline_root), args.wait_for_lock,
                           what=f"pipeline root {config.pipeline_root}",
                           on_wait=lambda holder: print(
                               f"Waiting up to {args.wait_for_lock:.0f} s for the run of pid "
                               f"{holder.get('pid', '?')} (since {holder.get('started', '?')}) "
                               f"on this pipeline root to end", flush=True)):
            return run(args)
    except run_lock.LockBusy as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_LOCKED


def run(args: argparse.Namespace) -> int:
    """Prepares the data and runs the pipeline; the caller holds the pipeline root's lock."""
    try:
        config = config_from_args(args, prepare_data(args))
        if config.data_source == "dir":
            layout.check_dataset(config.data_dir, config.span_pattern)  # as prepared
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except download.DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    return run_pipeline(config, args.verbose)


def run_pipeline(config, verbose: bool) -> int:
    """Runs the pipeline with its output in a log file under the pipeline root
    (pipeline/console.py): the console shows each component's start and end, the project's
    own progress lines and the summary."""
    from pipeline import console

    log_path = console.new_log_path(config.pipeline_root, "run")
    with console.Session(log_path, verbose=verbose, failure="the pipeline stopped",
                         hint="finished components are cached: a rerun goes on from there"
                         ) as session:
        print("Loading TFX...", flush=True)
        from tfx.orchestration.local.local_dag_runner import LocalDagRunner

        from pipeline import run_summary
        from pipeline.pipeline import create_pipeline
        from pipeline.process_tuning import tune_this_process
        from pipeline.user_module_pip import speed_up_user_module_installs

        speed_up_user_module_installs()
        tune_this_process()
        session.follow_tfx()
        start = time.time()
        LocalDagRunner().run(create_pipeline(config))
        run_summary.print_summary(config, time.time() - start)
        return 0
    return EXIT_FAILED  # the session showed the error's first lines and the log's path


if __name__ == "__main__":
    sys.exit(main())
