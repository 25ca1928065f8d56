"""The pipeline's node ids: what create_pipeline (pipeline/pipeline.py) names each component,
and what reading a run back (pipeline/run_summary.py) looks them up by. TFX keys the cache, the
metadata store and the compiled pipeline's task names by these: renaming one starts it afresh."""

EXAMPLE_GEN = "OxfordPetExampleGen"  # whichever source: the directory layout or TFDS
SCHEMA_GEN = "ImportSchemaGen"
STATISTICS_GEN = "StatisticsGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
ANOMALIES_GATE = "AnomaliesGate"
TRANSFORM = "Transform"
TRAINER = "Trainer"
LATEST_BLESSED_MODEL = "latest_blessed_model_resolver"  # the Evaluator's baseline
WARM_START_MODEL = "warm_start_model_resolver"  # the Trainer's base model (--warm-start)
EVALUATOR = "Evaluator"
PUSHER = "VersionedPusher"
REPORT = "EvaluationReport"
