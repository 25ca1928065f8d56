"""Runs the pet segmentation pipeline on this machine (LocalDagRunner, Beam DirectRunner).

    python local_runner.py                             # the official archives, downloaded
    python local_runner.py --demo                      # generated data in the real layout
    python local_runner.py --data-dir /data/oxford-iiit-pet
    python local_runner.py --tfds                      # TFDS's oxford_iiit_pet (3.x or 4.x)

Flags -> PipelineConfig -> create_pipeline -> LocalDagRunner -> summary. Metadata goes to
SQLite under the pipeline root; a rerun reuses every component whose inputs did not change (TFX
cache). The console shows each component's start and end and the project's own progress lines;
everything else goes to <pipeline-root>/logs/run-<time>.log (--verbose shows it as well). At the
end it prints what it pushed, or why not, and where the evaluation is.
"""

import argparse
import os
import sys
import tempfile
import time
from typing import List, Optional

# Light: no TensorFlow or TFX before the run, so --help and bad flags answer at once.
from cli import exits
from oxford_pet import download, sources
from pipeline import flags, local_flags
from pipeline.config import DEFAULT_WORK_DIR, PipelineConfig, WorkDir, check_output_dirs
from runs import store_health
from storage import files, lock_file


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python local_runner.py",
        description="Train, evaluate and push the pet segmentation U-Net with TFX on this "
                    "machine.",
        epilog=exits.epilog(ok="done (pushed or not)",
                            failed="a component or the download failed",
                            bad_input="bad flags, paths or dataset (nothing ran)",
                            locked="another run holds the pipeline root"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    local_flags.add_data_flags(parser)
    local_flags.add_output_flags(parser, DEFAULT_WORK_DIR)
    flags.add_training_flags(parser)
    local_flags.add_report_flags(parser)
    local_flags.add_execution_flags(parser)
    return parser


def data_source(args: argparse.Namespace) -> sources.DataSource:
    work = WorkDir(os.path.abspath(args.work_dir))
    kind, path = ((sources.DEMO, work.demo_data) if args.demo else
                  (sources.TFDS, args.tfds_data_dir) if args.tfds else
                  (sources.DIR, args.data_dir) if args.data_dir else (sources.DOWNLOAD, None))
    return sources.DataSource(kind, download_dir=args.download_dir or work.downloads, path=path,
                              span_pattern=args.span_pattern, demo_count=args.demo_count,
                              base_url=args.base_url, tfds_version=args.tfds_version)


def config_from_args(args: argparse.Namespace,
                     data_dir: Optional[str] = None) -> PipelineConfig:
    """The PipelineConfig for these flags; `data_dir` (default: where the data source will
    be once prepared) is what the pipeline reads."""
    work = WorkDir(os.path.abspath(args.work_dir))
    source = data_source(args)
    return PipelineConfig(
        data_dir=files.absolute(data_dir or source.data_dir()),
        data_source=source.pipeline_kind,
        max_quarantined_fraction=args.max_quarantined_fraction,
        pipeline_root=files.absolute(args.pipeline_root or work.pipeline_root),
        serving_dir=files.absolute(args.serving_dir or work.serving_dir),
        pipeline_name=args.pipeline_name, model_name=args.model_name,
        span_pattern=args.span_pattern, **flags.training_settings(args),
        report_max_examples=args.report_max_examples, report_samples=args.report_samples,
        beam_args=args.beam_args or [],
        enable_cache=not args.no_cache)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:  # every value is checked before anything is downloaded or created
        source = data_source(args)
        config = config_from_args(args)
        if files.is_remote(config.pipeline_root):
            raise ValueError(f"--pipeline-root {config.pipeline_root}: a local run's pipeline "
                             "root is a local directory (it holds the SQLite metadata store, "
                             "the run lock and the logs); --data-dir and --serving-dir may be "
                             "gs://")
        check_output_dirs(config)
        if args.wait_for_lock < 0:
            raise ValueError(f"--wait-for-lock must be 0 or more seconds, got "
                             f"{args.wait_for_lock:g}")
        source.check()
        os.makedirs(config.pipeline_root, exist_ok=True)
    except ValueError as error:
        return _error(error, exits.BAD_INPUT)
    try:
        with lock_file.hold(config.run_lock_path, args.wait_for_lock,
                            what=f"pipeline root {config.pipeline_root}",
                            on_wait=lambda holder: print(
                                f"Waiting up to {args.wait_for_lock:.0f} s for the run of pid "
                                f"{holder.get('pid', '?')} (since {holder.get('started', '?')}) "
                                f"on this pipeline root to end", flush=True)):
            return prepare_and_run(source, config, args.verbose, args.new_metadata_store)
    except lock_file.LockBusy as error:
        return _error(error, exits.LOCKED)


def prepare_and_run(source: sources.DataSource, config: PipelineConfig, verbose: bool,
                    new_store: bool = False) -> int:
    """Checks the metadata store, prepares the data and runs the pipeline; the caller holds
    the pipeline root's lock."""
    try:
        for line in store_health.check(config.metadata_path, config.pipeline_root,
                                       config.model_dir, new_store):
            print(line, flush=True)
        source.prepare()
    except ValueError as error:
        return _error(error, exits.BAD_INPUT)
    except download.DownloadError as error:
        return _error(error, exits.FAILED)
    return run_pipeline(config, verbose)


def run_pipeline(config: PipelineConfig, verbose: bool) -> int:
    """Runs the pipeline with its output in a log file under the pipeline root
    (cli/console.py): the console shows each component's start and end, the project's own
    progress lines and the summary."""
    from cli import console

    log_path = console.new_log_path(config.pipeline_root, "run")
    with console.Session(log_path, verbose=verbose, failure="the pipeline stopped",
                         hint="finished components are cached: a rerun goes on from there",
                         writes_to=[config.pipeline_root, tempfile.gettempdir()] + (
                             [] if files.is_remote(config.model_dir) else [config.model_dir]),
                         space_needed=lambda: space_needed(config)) as session:
        print("Loading TFX...", flush=True)
        from absl import logging
        from tfx.orchestration.local.local_dag_runner import LocalDagRunner

        from pipeline import run_summary
        from pipeline.pipeline import create_pipeline
        from pipeline.process_tuning import tune_this_process

        tune_this_process()
        closed = store_health.close_abandoned(config.metadata_path, config.pipeline_root)
        for line in closed:
            logging.info("%s", line)
        if closed:
            print(f"Closed {len(closed)} execution(s) an earlier run left running (killed, or "
                  f"out of disk space) and removed their partial outputs; the log lists them",
                  flush=True)
        session.follow_tfx()
        start = time.time()
        LocalDagRunner().run(create_pipeline(config))
        run_summary.print_summary(config, time.time() - start)
        return exits.OK
    return exits.FAILED  # the session showed the error's first lines and the log's path


def space_needed(config: PipelineConfig) -> str:
    """What a run needs on disk, in words, judged by the earlier runs' outputs."""
    from storage import disk_space

    size = disk_space.run_size(config.pipeline_root)
    if not size:
        return f"no earlier run under {config.pipeline_root} to judge a run's size by"
    return (f"a run writes up to about {disk_space.human(size)} under {config.pipeline_root} "
            "(the largest output of each component so far), and a pushed model's copy")


def _error(error: Exception, code: int) -> int:
    print(f"error: {error}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
