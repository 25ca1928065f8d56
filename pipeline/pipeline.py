"""`create_pipeline(config)`: the one definition of the pipeline, for every runner.

    OxfordPetExampleGen ─┬─ StatisticsGen ─ ExampleValidator ─ AnomaliesGate ─┐
                         │   (statistics: the gate's skew and drift checks) ──┤
    ImportSchemaGen ─────┘                                                    │
                         └─ Transform (trainer/preprocessing.py) ◄────────────┘
                              └─ Trainer (trainer/train.py) ─ Evaluator ─ VersionedPusher
               latest blessed model but this run's (Resolver) ─┘          └─ EvaluationReport

Components are imported from their own modules (not `tfx.v1`), which keeps a local run from
importing the Google Cloud clients; with `config.cloud.vertex_training` the Trainer is TFX's
Google Cloud extension Trainer (Vertex AI Training), imported only then. With
`config.trainer.warm_start` a second resolver feeds the Trainer's `base_model`: the latest
blessed model not trained on this run's examples (pipeline/resolvers.py: a rerun never compares
a model with itself nor starts from it).
"""

import dataclasses
import json
import os
from typing import List

import tensorflow_model_analysis as tfma
from tfx.components.evaluator.component import Evaluator
from tfx.components.example_validator.component import ExampleValidator
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.components.statistics_gen.component import StatisticsGen
from tfx.components.trainer.component import Trainer
from tfx.components.transform.component import Transform
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy)
from tfx.orchestration import metadata
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import trainer_pb2
from tfx.types import Channel
from tfx.types.standard_artifacts import Model, ModelBlessing

from components.anomalies_gate import AnomaliesGate
from components.evaluation_report import EvaluationReport
from components.oxford_pet_example_gen import (OxfordPetExampleGen, TfdsOxfordPetExampleGen,
                                               TFDS_SPLIT_PATTERNS, split_input_config)
from components.versioned_pusher import VersionedPusher
from pipeline import node_ids, resolvers
from pipeline.config import REPO_ROOT, SCHEMA_DIR, PipelineConfig
from trainer import features, metrics
from trainer.code_version import CODE_VERSION_KEY, code_version

# The model code's functions by name, imported from the repository or the pipeline image, not
# packaged as a wheel (trainer/code_version.py: how a code change still breaks the cache).
PREPROCESSING_FN = "trainer.preprocessing.preprocessing_fn"
RUN_FN = "trainer.train.run_fn"
SCHEMA_FILE = os.path.join(SCHEMA_DIR, "schema.pbtxt")
EVAL_SPLIT = "eval"


def eval_config(config: PipelineConfig) -> tfma.EvalConfig:
    """Pixel metrics at both resolutions, overall, by species and by breed, and the thresholds
    on `config.gate_metric` that bless a model.

    The thresholds apply to the whole eval split and to each species, not to each breed: a
    breed has a few eval examples, too few to gate on; its metrics are for the report.
    """
    metric_configs: List[tfma.MetricConfig] = metrics.metric_configs()
    gated = [tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[features.SPECIES_NAME_KEY])]
    for metric_config in metric_configs:
        if metrics.metric_name(metric_config) == config.gate_metric:
            metric_config.per_slice_thresholds.append(tfma.PerSliceMetricThreshold(
                slicing_specs=gated, threshold=tfma.MetricThreshold(
                    value_threshold=tfma.GenericValueThreshold(
                        lower_bound={"value": config.min_pixel_accuracy}),
                    change_threshold=tfma.GenericChangeThreshold(
                        direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                        absolute={"value": -config.max_pixel_accuracy_drop - 1e-9}))))
    return tfma.EvalConfig(
        # No label_key: the pixel metrics derive each label from the raw trimap
        # (trainer/metrics.py), so the Transform signature is not run on every example.
        model_specs=[tfma.ModelSpec(signature_name=features.EXAMPLES_SIGNATURE)],
        slicing_specs=gated + [tfma.SlicingSpec(feature_keys=[features.BREED_KEY])],
        metrics_specs=[tfma.MetricsSpec(metrics=metric_configs)],
        options=tfma.Options(include_default_metrics={"value": False}))


def trainer_component(config: PipelineConfig, **kwargs):
    """The local Trainer, or TFX's Vertex AI Training Trainer when the config asks for it."""
    cloud = config.cloud
    if cloud is not None and cloud.vertex_training is not None:
        from tfx.extensions.google_cloud_ai_platform.trainer.component import (
            Trainer as VertexTrainer)

        custom_config = {**config.trainer.to_custom_config(), **cloud.trainer_custom_config()}
        return VertexTrainer(custom_config=with_code_version(custom_config), **kwargs)
    return Trainer(custom_config=with_code_version(config.trainer.to_custom_config()), **kwargs)


def with_code_version(custom_config: dict) -> dict:
    """`custom_config` and the hash of trainer/'s code: a code change runs the component again."""
    return {**custom_config, CODE_VERSION_KEY: code_version()}


def latest_blessed_model(config: PipelineConfig, node_id: str, **exclude) -> Resolver:
    """The latest blessed model, other than what `exclude` names (`candidate`: this run's
    model, for the Evaluator's baseline; `examples`: no model trained on this run's examples,
    for the Trainer's warm start; pipeline/resolvers.py). In the cloud TFX's own
    LatestBlessedModelStrategy, the one Vertex compiles, which excludes nothing."""
    strategy = resolvers.LatestBlessedOtherModelStrategy
    if config.cloud:
        strategy, exclude = LatestBlessedModelStrategy, {}
    return Resolver(strategy_class=strategy, model=Channel(type=Model),
                    model_blessing=Channel(type=ModelBlessing), **exclude).with_id(node_id)


def create_pipeline(config: PipelineConfig) -> tfx_pipeline.Pipeline:
    ingest = ingest_components(config)
    example_gen, schema_gen, *_, anomalies_gate = ingest
    transform = Transform(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config=with_code_version(config.transform_config()),
        # Raw statistics are StatisticsGen's; TFDV over every transformed pixel would cost
        # Transform time for statistics nothing reads.
        disable_statistics=True).with_id(node_ids.TRANSFORM)
    transform.add_upstream_node(anomalies_gate)  # no Transform on data with anomalies
    warm_start = latest_blessed_model(
        config, node_ids.WARM_START_MODEL,
        examples=transform.outputs["transformed_examples"]) if config.trainer.warm_start else None

    trainer = trainer_component(
        config,
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=trainer_pb2.TrainArgs(splits=["train"]),
        eval_args=trainer_pb2.EvalArgs(splits=[EVAL_SPLIT]),
        # Warm start: the latest blessed model (none on a first run: training from scratch).
        base_model=warm_start.outputs[resolvers.MODEL_KEY] if warm_start else None
    ).with_id(node_ids.TRAINER)
    baseline = latest_blessed_model(config, node_ids.LATEST_BLESSED_MODEL,
                                    candidate=trainer.outputs["model"])

    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs[resolvers.MODEL_KEY],
        example_splits=[EVAL_SPLIT],
        eval_config=eval_config(config)).with_id(node_ids.EVALUATOR)

    return tfx_pipeline.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=ingest + [transform] + ([warm_start] if warm_start else [])
        + [trainer, baseline, evaluator]
        + push_and_report(config, ingest, trainer, evaluator),
        enable_cache=config.enable_cache,
        # On Vertex AI / Kubeflow the orchestrator brings its own metadata store.
        metadata_connection_config=None if config.cloud else
        metadata.sqlite_metadata_connection_config(config.metadata_path),
        beam_pipeline_args=config.beam_args)


def ingest_components(config: PipelineConfig) -> list:
    """ExampleGen (from the directory layout or TFDS), the schema, statistics and their check,
    and the gate that stops the pipeline on anomalies; in that order."""
    if config.data_source == "tfds":
        example_gen = TfdsOxfordPetExampleGen(
            tfds_dir=config.data_dir, max_quarantined_fraction=config.max_quarantined_fraction,
            input_config=split_input_config(TFDS_SPLIT_PATTERNS, config.span_pattern))
    else:
        example_gen = OxfordPetExampleGen(
            data_dir=config.data_dir, max_quarantined_fraction=config.max_quarantined_fraction,
            input_config=split_input_config(span_pattern=config.span_pattern))
    example_gen.with_id(node_ids.EXAMPLE_GEN)  # one node id whatever the source
    # In the cloud the step reads the schema from the pipeline image (Dockerfile), not from here.
    schema_gen = ImportSchemaGen(schema_file=config.cloud.image_path(SCHEMA_FILE, REPO_ROOT)
                                 if config.cloud else SCHEMA_FILE).with_id(node_ids.SCHEMA_GEN)
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"],
                                   schema=schema_gen.outputs["schema"]
                                   ).with_id(node_ids.STATISTICS_GEN)
    example_validator = ExampleValidator(statistics=statistics_gen.outputs["statistics"],
                                         schema=schema_gen.outputs["schema"]
                                         ).with_id(node_ids.EXAMPLE_VALIDATOR)
    anomalies_gate = AnomaliesGate(
        anomalies=example_validator.outputs["anomalies"],
        statistics=statistics_gen.outputs["statistics"],
        examples=example_gen.outputs["examples"],
        model_dir=config.model_dir, compare_spans=int(bool(config.span_pattern)),
        settings=json.dumps(dataclasses.asdict(config.data_checks), sort_keys=True)
    ).with_id(node_ids.ANOMALIES_GATE)
    return [example_gen, schema_gen, statistics_gen, example_validator, anomalies_gate]


def push_and_report(config: PipelineConfig, ingest: list, trainer, evaluator) -> list:
    """The VersionedPusher (a blessed model into the serving directory, and the Model
    Registry when configured) and the EvaluationReport after it."""
    example_gen, _, statistics_gen, _, anomalies_gate = ingest
    pusher = VersionedPusher(model=trainer.outputs["model"],
                             model_blessing=evaluator.outputs["blessing"],
                             model_dir=config.model_dir,
                             # for each version's manifest only
                             evaluation=evaluator.outputs["evaluation"],
                             examples=example_gen.outputs["examples"],
                             statistics=statistics_gen.outputs["statistics"],
                             pipeline_config=dataclasses.asdict(config),
                             # then each version into the Vertex AI Model Registry, if set
                             vertex_model=config.cloud.registry_settings(config.pipeline_name)
                             if config.cloud else None).with_id(node_ids.PUSHER)
    report = EvaluationReport(  # after the push, so it can say what was pushed where
        evaluation=evaluator.outputs["evaluation"], blessing=evaluator.outputs["blessing"],
        examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
        model_run=trainer.outputs["model_run"], pushed_model=pusher.outputs["pushed_model"],
        data_checks=anomalies_gate.outputs["checks"],
        pipeline_name=config.pipeline_name, max_examples=config.report_max_examples,
        samples_per_group=config.report_samples).with_id(node_ids.REPORT)
    return [pusher, report]
