"""EvaluationReport: writes report.html and report.md for every pipeline run.

Runs after the VersionedPusher, so the report can say which version was pushed where, and runs
whether or not the model was blessed (the Pusher always finishes; the report then says which
threshold failed). The work is in report/ (gather facts, render); this is only the wiring.
"""

from tfx.dsl.component.experimental.annotations import (InputArtifact, OutputArtifact,
                                                          Parameter)
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import (ExampleAnomalies, Examples, ModelBlessing,
                                          ModelEvaluation, Model, ModelRun, PushedModel)

# The output's type lives in the top-level package its schema title names (petseg/ says why:
# on Vertex AI, TFX's container entrypoint imports "petseg.EvaluationReport" as a class path).
from petseg import EvaluationReport as EvaluationReportArtifact


@component
def EvaluationReport(
        evaluation: InputArtifact[ModelEvaluation],
        blessing: InputArtifact[ModelBlessing],
        examples: InputArtifact[Examples],
        model: InputArtifact[Model],
        model_run: InputArtifact[ModelRun],
        pushed_model: InputArtifact[PushedModel],
        data_checks: InputArtifact[ExampleAnomalies],
        report: OutputArtifact[EvaluationReportArtifact],
        pipeline_name: Parameter[str] = "",
        max_examples: Parameter[int] = 256,
        samples_per_group: Parameter[int] = 4) -> None:
    """Gathers the run's facts and writes the report into the output artifact's directory."""
    from report import facts, write
    from runs.metadata import properties

    run = facts.RunArtifacts(
        evaluation_uri=evaluation.uri, blessing=properties(blessing.mlmd_artifact),
        examples_uri=examples.uri, examples=properties(examples.mlmd_artifact),
        model_uri=model.uri, model_run_uri=model_run.uri,
        pushed=properties(pushed_model.mlmd_artifact), pipeline_name=pipeline_name or None,
        data_checks_uri=data_checks.uri)
    gathered = facts.gather(run, max_examples, samples_per_group)
    paths = write.write_report(gathered, report.uri)
    print(f"[EvaluationReport] {paths[write.HTML_FILE]}", flush=True)
