"""Runs the compiled pipeline on this machine as Vertex AI Pipelines would run it.

    python kubeflow_v2_runner.py ... --output build/pipeline.json
    python -m deploy.emulate --template build/pipeline.json --gcs-dir /tmp/gcs

Every task of the PipelineJob runs in its own process with its own container command and the
ExecutorInput Vertex would hand it, in a directory laid out as the pipeline image is (the
Dockerfile's WORKDIR, COPY and ENV), with gs:// standing for --gcs-dir; resolvers are answered
from the emulator's own metadata store under --gcs-dir, the Trainer's Vertex AI custom job by a
stand-in JobService, Dataflow by Beam's DirectRunner. README.md ("Try the Vertex pipeline
locally") says exactly what differs from Vertex; deploy/emulator/ holds the pieces.
Exit status 0 only if every task succeeded (cli/exits.py: 1 a task failed, 2 the job was
refused or the flags are wrong: nothing ran).
"""

import argparse
import os
import sys
from typing import List, Optional

from cli import exits

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_parser() -> argparse.ArgumentParser:
    from deploy.emulator import run

    defaults = run.Options.__dataclass_fields__
    parser = argparse.ArgumentParser(
        prog="python -m deploy.emulate",
        description="Run the compiled Vertex AI pipeline (kubeflow_v2_runner.py --output) on "
                    "this machine the way Vertex AI Pipelines runs it: each task in its own "
                    "process with its container command, on the image's Python, in a directory "
                    "laid out as the image is, with gs:// an emulated Cloud Storage seeded from "
                    "--gcs-dir (written back when the job ends). No Docker, cloud or network "
                    "needed; root (a private network namespace), and the package registry the "
                    "first time (the image's Python environment is built once).",
        epilog=exits.epilog(ok="every task succeeded", failed="a task failed",
                            bad_input="bad flags, or the job was refused (nothing ran)"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_job_flags(parser, defaults)
    _add_execution_flags(parser, defaults)
    return parser


def _add_job_flags(parser: argparse.ArgumentParser, defaults) -> None:
    """What runs: the compiled job, where gs:// is, the image, the orchestrator's names."""
    from deploy.emulator import run

    parser.add_argument("--template", required=True,
                        help="the PipelineJob JSON kubeflow_v2_runner.py wrote")
    parser.add_argument("--gcs-dir", required=True, metavar="DIR",
                        help="the local directory the emulated Cloud Storage is seeded from and "
                             "written back to when the job ends (gs://BUCKET/PATH is "
                             "DIR/BUCKET/PATH; put the data the pipeline reads there); the "
                             "emulator keeps its metadata store and logs in "
                             "DIR/.vertex-emulator/")
    parser.add_argument("--dockerfile", default=os.path.join(REPO_ROOT, "Dockerfile"),
                        help="the Dockerfile the pipeline image is built from")
    parser.add_argument("--context", default=None,
                        help="the build context (default: the Dockerfile's directory)")
    parser.add_argument("--launcher", choices=run.LAUNCHERS, default=defaults["launcher"].default,
                        help="vertex: what Vertex AI Pipelines hands each step; kfp: what "
                             "open-source Kubeflow Pipelines v2 does with the same file "
                             "(deploy/emulator/kfp.py)")
    parser.add_argument("--job-id", default=None,
                        help="the PipelineJob id (default: PIPELINE-YYYYmmddHHMMSS, as "
                             "aiplatform.PipelineJob names it)")
    parser.add_argument("--project-number", default=defaults["project_number"].default,
                        help="the project number in resource names and task directories")
    parser.add_argument("--region", default=defaults["region"].default,
                        help="the region in resource names")


def _add_execution_flags(parser: argparse.ArgumentParser, defaults) -> None:
    """How the steps run: cache, failure policy, processes, Beam, parallelism."""
    parser.add_argument("--no-cache", dest="enable_cache", action="store_false",
                        help="run every task even if an earlier run had the same inputs "
                             "(as `python -m deploy.vertex submit --no-cache`)")
    parser.add_argument("--failure-policy", choices=("slow", "fast"),
                        default=defaults["failure_policy"].default,
                        help="slow (Vertex's default): after a failure, run what does not "
                             "depend on it; fast: schedule nothing new")
    parser.add_argument("--cold-start", action="store_true",
                        help="start every step as a fresh `python` process exactly as its "
                             "command says (about 20 s of imports each), instead of forking it "
                             "from a process that has the third-party stack imported")
    parser.add_argument("--direct-running-mode", default=defaults["direct_running_mode"].default,
                        choices=("in_memory", "multi_threading", "multi_processing"),
                        help="Beam DirectRunner mode replacing Dataflow in the Beam steps, on one "
                             "worker (more can lose records: pipeline/beam_args.py)")
    parser.add_argument("--parallelism", type=int, default=defaults["parallelism"].default,
                        help="at most this many tasks at once (0: every ready task, as Vertex)")
    parser.add_argument("--python", default=None, metavar="PYTHON",
                        help="the interpreter steps run with (default: an environment of the "
                             "image's Python 3.10 with requirements.lock's packages, built once "
                             "by scripts/ensure_env.sh)")
    parser.add_argument("--run-build-steps", action="store_true",
                        help="also run the Dockerfile's RUN lines other than the lock install "
                             "(the image's own import check) in the layout before the job")


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    from deploy.emulator import environment, image, run, spec
    from deploy.storage_emulator import runner, sandbox

    if args.parallelism < 0:
        print("error: --parallelism must be 0 or more", file=sys.stderr)
        return exits.BAD_INPUT
    if not os.path.isdir(args.gcs_dir):
        print(f"error: --gcs-dir {args.gcs_dir} is not a directory: give the directory whose "
              "BUCKET/PATH folders hold what the pipeline reads at gs://BUCKET/PATH (its "
              "--data-dir)", file=sys.stderr)
        return exits.BAD_INPUT
    if not sandbox.inside():  # before the namespace: the first build needs the registry
        reason = sandbox.unavailable_reason()
        if reason:
            print(f"error: {reason}", file=sys.stderr)
            return exits.BAD_INPUT
        try:
            python = args.python or environment.ensure(REPO_ROOT, _say)
        except environment.EnvironmentError_ as error:
            print(f"error: {error}", file=sys.stderr)
            return exits.BAD_INPUT
        sandbox.enter([sys.executable, "-m", "deploy.emulate", *argv]
                      + ([] if args.python else ["--python", python]))
    options = run.Options(
        template=args.template, gcs_dir=args.gcs_dir, dockerfile=args.dockerfile,
        context=args.context or os.path.dirname(os.path.abspath(args.dockerfile)),
        launcher=args.launcher, project_number=args.project_number, region=args.region,
        job_id=args.job_id, enable_cache=args.enable_cache, failure_policy=args.failure_policy,
        cold_start=args.cold_start, direct_running_mode=args.direct_running_mode,
        run_build_steps=args.run_build_steps,
        parallelism=args.parallelism, python=args.python or sys.executable)
    try:
        job = run.EmulatedJob(options, out=_say)
    except (spec.SpecError, image.DockerfileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return exits.BAD_INPUT
    with runner.session(args.gcs_dir, [runner.python_environment(options.python), sys.prefix],
                        say=job.say, project_number=args.project_number,
                        log_dir=os.path.join(job.state_root, run.STATE_DIR, "storage",
                                             job.job_id)):
        return job.run()


def _say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
