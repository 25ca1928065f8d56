"""Compiles the pipeline for Kubeflow Pipelines V2 / Vertex AI Pipelines (KubeflowV2DagRunner).

    python kubeflow_v2_runner.py --project my-project --region us-central1 \\
        --image us-docker.pkg.dev/my-project/petseg/pipeline:1 \\
        --pipeline-root gs://my-bucket/petseg/root --data-dir gs://my-bucket/petseg/data \\
        --serving-dir gs://my-bucket/petseg/serving --span-pattern 'span-{SPAN}' --warm-start \\
        --dataflow-temp-location gs://my-bucket/petseg/tmp \\
        --vertex-training --accelerator-type NVIDIA_TESLA_T4 --accelerator-count 1 \\
        --vertex-model pet-unet [--vertex-endpoint pet-segmentation]

writes `pipeline.json` (a KFP v2 PipelineJob), which `python -m deploy.vertex submit|schedule`
then sends. With `--vertex-model` the pusher step also registers each pushed version in the
Vertex AI Model Registry (components/model_registry.py), and with `--vertex-endpoint` serves it
there. The pipeline is the same `create_pipeline(config)` the local runner runs; only the
configuration differs (gs:// paths, `PipelineConfig.cloud`).

Compiling needs no cloud access and no credentials: it writes one file. The model code is
not uploaded; Transform and Trainer load `trainer.preprocessing.preprocessing_fn` and
`trainer.train.run_fn` from the pipeline image (--image), and the hash of trainer/ in their
custom_config makes a new image with changed code run them again (trainer/code_version.py).
`python -m deploy.emulate --template ... --gcs-dir DIR` runs the same file as Vertex AI would.
"""

import argparse
import os
import sys
from typing import List, Optional

from cli import exits
from pipeline import flags  # light: plain dataclasses and argparse, so --help stays fast
from pipeline.cloud import CloudConfig, DataflowConfig, ModelRegistryConfig, VertexTrainingConfig
from pipeline.config import PipelineConfig

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUTPUT = os.path.join(HERE, "build", "pipeline.json")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python kubeflow_v2_runner.py",
        description="Compile the pet segmentation pipeline to a Kubeflow V2 / Vertex AI "
                    "pipeline JSON (no run is started: `python -m deploy.vertex submit` starts "
                    "one; `python -m deploy.emulate` tries it locally).",
        epilog=exits.epilog(ok="written", failed="compiling failed",
                            bad_input="bad flags or settings Vertex AI refuses"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_cloud_and_path_flags(parser)
    _add_dataflow_flags(parser)
    _add_vertex_training_flags(parser)
    _add_registry_flags(parser)
    flags.add_training_flags(parser)
    out = parser.add_argument_group("output")
    out.add_argument("--output", default=DEFAULT_OUTPUT, help="the pipeline JSON to write")
    out.add_argument("--verbose", action="store_true",
                     help="show every TFX line on the console too (they always go to "
                          "<dir of --output>/logs/compile-<time>.log)")
    return parser


def _add_cloud_and_path_flags(parser: argparse.ArgumentParser) -> None:
    defaults = PipelineConfig.__dataclass_fields__
    where = parser.add_argument_group("Google Cloud")
    where.add_argument("--project", required=True, help="Google Cloud project id")
    where.add_argument("--region", required=True, help="e.g. us-central1")
    where.add_argument("--image", required=True,
                       help="the pipeline image built from Dockerfile, e.g. "
                            "us-docker.pkg.dev/PROJECT/REPO/petseg:TAG")
    paths = parser.add_argument_group("paths (gs://)")
    paths.add_argument("--pipeline-root", required=True, help="artifacts of every run")
    paths.add_argument("--data-dir", required=True,
                       help="the dataset's layout, or with --span-pattern the root of the spans")
    paths.add_argument("--serving-dir", required=True,
                       help="pushed models: <serving-dir>/<model-name>/<version>/")
    paths.add_argument("--span-pattern", default=None, metavar="PATTERN",
                       help="e.g. 'span-{SPAN}': every run trains on the latest span")
    paths.add_argument("--pipeline-name", default=defaults["pipeline_name"].default,
                       help="the pipeline's name in Vertex AI and in its metadata")
    paths.add_argument("--model-name", default=defaults["model_name"].default,
                       help="the model's directory name under --serving-dir")


def _add_dataflow_flags(parser: argparse.ArgumentParser) -> None:
    defaults = DataflowConfig.__dataclass_fields__
    dataflow = parser.add_argument_group("Dataflow (Beam components); off unless "
                                         "--dataflow-temp-location is given")
    dataflow.add_argument("--dataflow-temp-location", help="gs:// staging and temp files")
    dataflow.add_argument("--dataflow-machine-type", default=defaults["machine_type"].default,
                          help="Compute Engine machine type of the Dataflow workers")
    dataflow.add_argument("--dataflow-max-workers", type=int,
                          default=defaults["max_num_workers"].default,
                          help="upper bound of Dataflow autoscaling, per Beam step")
    dataflow.add_argument("--dataflow-disk-size-gb", type=int,
                          default=defaults["disk_size_gb"].default,
                          help="boot disk of each Dataflow worker, GB")


def _add_vertex_training_flags(parser: argparse.ArgumentParser) -> None:
    defaults = VertexTrainingConfig.__dataclass_fields__
    vertex = parser.add_argument_group("Vertex AI Training (the Trainer); off unless "
                                       "--vertex-training")
    vertex.add_argument("--vertex-training", action="store_true",
                        help="run the Trainer as a Vertex AI custom job")
    vertex.add_argument("--training-machine-type", default=defaults["machine_type"].default,
                        help="machine type of the Vertex AI Training job, e.g. n1-standard-8")
    vertex.add_argument("--accelerator-type", default=defaults["accelerator_type"].default,
                        help="a Vertex AcceleratorType, e.g. NVIDIA_TESLA_T4, NVIDIA_L4; "
                             "'none' for CPU only")
    vertex.add_argument("--accelerator-count", type=int,
                        default=defaults["accelerator_count"].default,
                        help="GPUs per training machine: 1, 2, 4 or 8")


def _add_registry_flags(parser: argparse.ArgumentParser) -> None:
    defaults = ModelRegistryConfig.__dataclass_fields__
    registry = parser.add_argument_group(
        "Vertex AI Model Registry (each pushed version); off unless --vertex-model")
    registry.add_argument("--vertex-model", default=None, metavar="MODEL_ID",
                          help="register every pushed version as a version of this registry "
                               "model (created by the first push), aliases vN, blessed, "
                               "default; e.g. pet-unet")
    registry.add_argument("--vertex-serving-image", default=None, metavar="IMAGE",
                          help="the registry versions' serving container (default: Vertex's "
                               "prebuilt TensorFlow image nearest the locked TensorFlow, from "
                               "the region's registry, e.g. us-docker.pkg.dev/vertex-ai/"
                               "prediction/tf2-cpu.2-15:latest)")
    registry.add_argument("--vertex-endpoint", default=None, metavar="NAME",
                          help="also deploy every pushed version to this Vertex AI endpoint "
                               "(display name, created if missing; or its ID) with 100%% of "
                               "the traffic, undeploying the model's older versions there")
    registry.add_argument("--vertex-endpoint-machine-type",
                          default=defaults["endpoint_machine_type"].default,
                          help="machine type serving the endpoint's deployed model")


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """The PipelineConfig (with its cloud part) for these flags; validated."""
    cloud = CloudConfig(project=args.project, region=args.region, image=args.image,
                        dataflow=_dataflow(args), vertex_training=_vertex_training(args),
                        model_registry=_model_registry(args))
    return PipelineConfig(
        data_dir=args.data_dir, pipeline_root=args.pipeline_root,
        serving_dir=args.serving_dir, pipeline_name=args.pipeline_name,
        model_name=args.model_name, span_pattern=args.span_pattern,
        **flags.training_settings(args),
        # Dataflow when set; else the DirectRunner in each step, on its default single worker
        # (more workers can lose records: pipeline/beam_args.py).
        beam_args=cloud.dataflow_beam_args(),
        cloud=cloud)


def _dataflow(args: argparse.Namespace) -> Optional[DataflowConfig]:
    if not args.dataflow_temp_location:
        return None
    return DataflowConfig(temp_location=args.dataflow_temp_location,
                          machine_type=args.dataflow_machine_type,
                          max_num_workers=args.dataflow_max_workers,
                          disk_size_gb=args.dataflow_disk_size_gb)


def _vertex_training(args: argparse.Namespace) -> Optional[VertexTrainingConfig]:
    """The Trainer's Vertex AI custom job, checked against Vertex's machine rules."""
    from deploy import vertex_rules

    if not args.vertex_training:
        return None
    accelerator = None if str(args.accelerator_type).lower() == "none" else \
        args.accelerator_type
    training = VertexTrainingConfig(machine_type=args.training_machine_type,
                                    accelerator_type=accelerator,
                                    accelerator_count=args.accelerator_count)
    spec = training.machine_spec()
    problem = vertex_rules.machine_spec_problem(
        spec["machine_type"], spec.get("accelerator_type"), spec.get("accelerator_count", 0))
    if problem:
        raise ValueError(f"Vertex AI Training refuses this machine: {problem} "
                         f"(--training-machine-type, --accelerator-type, --accelerator-count)")
    return training


def _model_registry(args: argparse.Namespace) -> Optional[ModelRegistryConfig]:
    if args.vertex_model:
        return ModelRegistryConfig(model_id=args.vertex_model,
                                   serving_image=args.vertex_serving_image,
                                   endpoint=args.vertex_endpoint,
                                   endpoint_machine_type=args.vertex_endpoint_machine_type)
    if args.vertex_endpoint or args.vertex_serving_image:
        raise ValueError("--vertex-endpoint and --vertex-serving-image need --vertex-model (the "
                         "registry model whose versions are served)")
    return None


def registry_summary(config) -> str:
    """Where pushed versions are registered (and served), and the serving image's caveat."""
    import importlib.metadata

    from components.model_registry import prebuilt_tf_image

    settings = config.cloud.registry_settings(config.pipeline_name)
    lines = [f"Each pushed version is registered as a version of Vertex AI model "
             f"{settings['model_id']} ({settings['project']}, {settings['region']}), serving "
             f"image {settings['serving_image']}"
             + (f", and deployed to endpoint {settings['endpoint']!r} with 100% of the traffic"
                if settings["endpoint"] else "")]
    if config.cloud.model_registry.serving_image is None:
        _, note = prebuilt_tf_image(config.cloud.region, importlib.metadata.version("tensorflow"))
        if note:
            lines.append(f"note: {note}")
    return "\n".join(lines)


def compile_pipeline(config, output: str) -> str:
    """Writes the KFP v2 pipeline JSON of `create_pipeline(config)` to `output`."""
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as runner

    from pipeline.pipeline import create_pipeline

    dag_runner = runner.KubeflowV2DagRunner(
        config=runner.KubeflowV2DagRunnerConfig(default_image=config.cloud.image),
        output_dir=os.path.dirname(os.path.abspath(output)),
        output_filename=os.path.basename(output))
    dag_runner.run(create_pipeline(config))
    return output


def main(argv: Optional[List[str]] = None) -> int:
    from cli import console

    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return exits.BAD_INPUT
    # What TFX and the cloud libraries write goes to a log beside --output.
    log_path = console.new_log_path(os.path.dirname(os.path.abspath(args.output)), "compile")
    return console.run_logged(compile_and_say, args, config, log_path=log_path,
                              verbose=args.verbose, failure="compiling stopped")


def compile_and_say(args: argparse.Namespace, config) -> int:
    print("Loading TFX...", flush=True)
    path = compile_pipeline(config, args.output)
    print(f"Wrote {path}")
    if config.cloud.model_registry is not None:
        print(registry_summary(config))
    print(f"Try it locally, as Vertex AI would run it: python -m deploy.emulate "
          f"--template {path} --gcs-dir DIR  (DIR stands for Cloud Storage)")
    print(f"Submit it: python -m deploy.vertex submit --template {path} "
          f"--project {args.project} --region {args.region} "
          f"--pipeline-root {args.pipeline_root}")
    return exits.OK


if __name__ == "__main__":
    sys.exit(main())
