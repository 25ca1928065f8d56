"""Runs the compiled pipeline on a Kubeflow Pipelines (v2) cluster, once or as a recurring run.

    python kubeflow_v2_runner.py ... --output build/pipeline.yaml   # KFP takes the YAML spec
    python -m deploy.kubeflow submit   --host https://HOST/pipeline --package build/pipeline.yaml \\
        --experiment pet-segmentation --pipeline-root gs://bucket/petseg/root
    python -m deploy.kubeflow schedule --host https://HOST/pipeline --package build/pipeline.yaml \\
        --experiment pet-segmentation --pipeline-root gs://bucket/petseg/root \\
        --cron '0 0 3 * * 1'

KFP cron expressions have six fields, seconds first. Authentication is the cluster's (in-cluster
service account, or kfp.Client's own discovery of credentials): no token is a flag here.

Open-source KFP v2 cannot run what TFX 1.16 compiles for this pipeline (README, "Plain Kubeflow
Pipelines"; deploy/emulator/kfp.py cites the KFP sources): the API server's compiler refuses its
resolver tasks ("non-container and non-importer executor not implemented") and the driver its
parameters. Both commands check
the package first and stop with those reasons rather than send a run that cannot start; they
still send packages KFP can run.
"""

import argparse
import os
import sys
from typing import List, Optional

from cli import console, exits
from deploy import common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.kubeflow",
        description="Submit the compiled pipeline to Kubeflow Pipelines, or create a recurring "
                    "run.",
        epilog=exits.epilog(failed="the cluster refused the request or could not be reached",
                            bad_input="bad flags, or a package KFP cannot run (nothing sent)"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for name, command in common.subcommands(
            parser, submit="start one run now",
            schedule="create a recurring run from a cron expression"):
        command.add_argument("--host", required=True, help="the KFP API endpoint")
        command.add_argument("--package", required=True,
                             help="the pipeline YAML written by kubeflow_v2_runner.py "
                                  "--output x.yaml")
        command.add_argument("--experiment", default=common.DEFAULT_RUN_NAME,
                             help="KFP experiment (created when missing)")
        command.add_argument("--namespace", default="kubeflow",
                             help="Kubernetes namespace of the KFP deployment")
        command.add_argument("--pipeline-root", required=True,
                             help="where runs write artifacts (gs://, s3://, minio://)")
        command.add_argument("--run-name", default=common.DEFAULT_RUN_NAME,
                             help="name of the run (or recurring run) in the KFP UI")
        command.add_argument("--service-account", help="Kubernetes service account of the runs")
        command.add_argument("--verbose", action="store_true",
                             help="show the KFP client's own lines too (they always go to "
                                  "<dir of --package>/logs/kubeflow-<command>-<time>.log)")
        if name == "schedule":
            command.add_argument("--cron", required=True,
                                 help="6-field cron, seconds first: '0 0 3 * * 1'")
            command.add_argument("--max-concurrency", type=int, default=1,
                                 help="runs of this schedule allowed at once (1: a run "
                                      "waits for the previous one)")
    return parser


def kfp_refusals(package: str) -> List[str]:
    """What a KFP v2 cluster would refuse in this package (deploy/emulator/kfp.py)."""
    import json

    import yaml

    from deploy.emulator import kfp

    with open(package) as handle:
        documents = list(yaml.safe_load_all(handle)) if package.endswith((".yaml", ".yml")) \
            else [json.load(handle)]
    spec = documents[0] or {}
    return kfp.incompatibilities(spec.get("pipelineSpec", spec))


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        package = common.check_template(args.package)
        params = common.parse_parameters(args.parameter)
        if args.command == "schedule":
            common.check_cron(args.cron, fields=6)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return exits.BAD_INPUT
    refusals = kfp_refusals(package)
    if refusals:
        print(f"error: a Kubeflow Pipelines v2 cluster cannot run {package}: "
              f"{'; '.join(refusals[:3])}"
              f"{f' (and {len(refusals) - 3} more)' if len(refusals) > 3 else ''}. TFX 1.16 "
              "pipelines with a Resolver do not run on open-source KFP v2; run it on Vertex AI "
              "(python -m deploy.vertex) and see README.md, \"Plain Kubeflow Pipelines\"",
              file=sys.stderr)
        return exits.BAD_INPUT
    log_path = console.new_log_path(os.path.dirname(os.path.abspath(package)),
                                    f"kubeflow-{args.command}")
    with console.Session(log_path, verbose=args.verbose, failure=f"{args.command} stopped"):
        return send(args, package, params)
    return exits.FAILED  # the session showed the error and the log's path


def send(args: argparse.Namespace, package: str, params) -> int:
    """Starts the run or creates the recurring run; what the KFP client prints goes to the
    log."""
    import kfp

    client = kfp.Client(host=args.host, namespace=args.namespace)
    if args.command == "submit":
        result = client.create_run_from_pipeline_package(
            package, arguments=params, run_name=args.run_name,
            experiment_name=args.experiment, namespace=args.namespace,
            pipeline_root=args.pipeline_root, service_account=args.service_account)
        print(f"Submitted run {getattr(result, 'run_id', '')}")
        return 0
    experiment = client.create_experiment(args.experiment, namespace=args.namespace)
    recurring = client.create_recurring_run(
        experiment_id=experiment.experiment_id, job_name=f"{args.run_name}-schedule",
        cron_expression=args.cron, max_concurrency=args.max_concurrency, no_catchup=True,
        params=params, pipeline_package_path=package, pipeline_root=args.pipeline_root,
        service_account=args.service_account)
    print(f"Recurring run {getattr(recurring, 'recurring_run_id', '')}: {args.cron}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
