"""Runs the compiled pipeline on Vertex AI Pipelines, once or on a schedule.

    python -m deploy.vertex submit   --template build/pipeline.json --project P --region R \\
        --pipeline-root gs://bucket/petseg/root [--service-account SA]
    python -m deploy.vertex schedule --template build/pipeline.json --project P --region R \\
        --pipeline-root gs://bucket/petseg/root --cron 'TZ=Europe/Berlin 0 3 * * 1' \\
        [--service-account SA]

`submit` creates one PipelineJob; `schedule` creates a Vertex schedule that starts one from the
same template at every cron tick (with --span-pattern and --warm-start compiled in, each run
trains on the latest span from the latest blessed model). Credentials: Application Default
Credentials (`gcloud auth application-default login`, or the caller's service account); the
runs themselves act as --service-account.
"""

import argparse
import contextlib
import os
import sys
from typing import List, Optional

from cli import console, exits
from deploy import common

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.vertex",
        description="Submit the compiled pipeline to Vertex AI Pipelines, or schedule it.",
        epilog=exits.epilog(failed="Vertex AI refused the request or could not be reached"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for name, command in common.subcommands(
            parser, submit="start one pipeline run now",
            schedule="create a schedule that starts a run at every cron tick"):
        command.add_argument("--template", required=True,
                             help="the pipeline JSON written by kubeflow_v2_runner.py")
        command.add_argument("--project", required=True, help="Google Cloud project id")
        command.add_argument("--region", required=True, help="Vertex AI region, e.g. "
                                                             "us-central1")
        command.add_argument("--pipeline-root", required=True,
                             help="gs:// root for the runs' artifacts (as compiled)")
        command.add_argument("--service-account", help="the service account runs act as "
                             "(default: the project's Compute Engine default account)")
        command.add_argument("--display-name", default=common.DEFAULT_RUN_NAME,
                             help="the run's (or schedule's) name in the Vertex AI console")
        command.add_argument("--no-cache", action="store_true",
                             help="rerun every step even if its inputs did not change")
        command.add_argument("--verbose", action="store_true",
                             help="show the Vertex AI client's own lines too (they always go "
                                  "to <dir of --template>/logs/vertex-<command>-<time>.log)")
        if name == "submit":
            command.add_argument("--wait", action="store_true",
                                 help="block until the run finishes")
        else:
            command.add_argument("--cron", required=True,
                                 help="5-field cron, optionally with a time zone: "
                                      "'TZ=Europe/Berlin 0 3 * * 1'")
            command.add_argument("--max-concurrent-runs", type=int, default=1,
                                 help="runs of this schedule that may overlap; keep 1: on "
                                      "gs:// the pusher has no lock, a second pusher only "
                                      "detects a taken version number and fails")
            command.add_argument("--max-runs", type=int, default=None,
                                 help="stop after this many runs (default: no limit)")
    return parser


def check(args: argparse.Namespace) -> None:
    """ValueError for flags that cannot work, before anything is imported or sent."""
    if args.command == "schedule":
        common.check_cron(args.cron, fields=5)
        if args.max_concurrent_runs < 1:
            raise ValueError("--max-concurrent-runs must be at least 1")
        if args.max_concurrent_runs > 1:
            print(f"warning: --max-concurrent-runs {args.max_concurrent_runs}: overlapping "
                  "runs pushing to one gs:// serving directory race for version numbers; "
                  "the loser's push fails (serving/push.py)", file=sys.stderr)
    common.check_template(args.template, (".json",))
    if not args.pipeline_root.startswith("gs://"):
        raise ValueError(f"--pipeline-root must be a gs:// path, got {args.pipeline_root!r}")
    common.parse_parameters(args.parameter)


def pipeline_job(args: argparse.Namespace):
    """The aiplatform.PipelineJob for these flags (creating it does not start anything)."""
    from google.cloud import aiplatform

    return aiplatform.PipelineJob(
        display_name=args.display_name,
        template_path=common.check_template(args.template, (".json",)),
        pipeline_root=args.pipeline_root,
        parameter_values=common.parse_parameters(args.parameter),
        enable_caching=False if args.no_cache else None,  # None: as compiled
        project=args.project, location=args.region)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return exits.BAD_INPUT
    log_path = console.new_log_path(os.path.dirname(os.path.abspath(args.template)),
                                    f"vertex-{args.command}")
    with console.Session(log_path, verbose=args.verbose, failure=f"{args.command} stopped"):
        return send(args)
    return exits.FAILED  # the session showed the error and the log's path


def send(args: argparse.Namespace) -> int:
    """Submits the run or creates the schedule; what Vertex AI's client logs goes to the log."""
    job = pipeline_job(args)
    if args.command == "submit":
        job.submit(service_account=args.service_account)
        print(f"Submitted {getattr(job, 'resource_name', args.display_name)}")
        with contextlib.suppress(Exception):  # the console link, as the client logs it
            print(f"View it: {job._dashboard_uri()}")  # noqa: SLF001
        if args.wait:
            print("Waiting for the run to end (its state changes go to the log)", flush=True)
            job.wait()
            print(f"Run ended: {getattr(job, 'state', 'done')}")
        return 0
    schedule = job.create_schedule(
        cron=args.cron, display_name=f"{args.display_name}-schedule",
        max_concurrent_run_count=args.max_concurrent_runs, max_run_count=args.max_runs,
        service_account=args.service_account)
    print(f"Scheduled {getattr(schedule, 'resource_name', args.display_name)}: {args.cron}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
