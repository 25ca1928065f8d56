"""This project's own TFX artifact types, each importable by its schema title.

On Kubeflow V2 / Vertex AI a custom artifact type travels as a schema title, and two rules meet:
- Vertex (and TFX's compiler, `compiler_utils._SCHEMA_TITLE_RE`) accept only titles matching
  `^[a-z][a-z0-9-_]{2,20}[.][A-Z][a-zA-Z0-9-_]{2,49}$`: one dot, `<namespace>.<Name>`
  (Vertex's error: "MetadataSchema must include a schema title that satisfies the following
  regex", tensorflow/tfx-addons#249);
- TFX's container entrypoint turns every artifact it is handed back into a Python class by
  importing the title as a class path (`kubeflow_v2_entrypoint_utils._retrieve_class_path` and
  `_parse_raw_artifact`, TFX 1.16; tensorflow/tfx#5744, #6102).

So a custom type named `petseg.EvaluationReport` must be the class `EvaluationReport` of a
top-level module `petseg` in the pipeline image: this package. `tests/test_vertex_emulation.py`
checks every artifact type of the project against both rules, and `deploy/image_check.py`
imports each by its title when the image is built.
"""

from tfx.types.artifact import Artifact


class EvaluationReport(Artifact):
    """A directory with report.html (self-contained), report.md and facts.json."""

    TYPE_NAME = "petseg.EvaluationReport"  # == f"{__name__}.{__qualname__}", see above


ARTIFACT_TYPES = (EvaluationReport,)
