"""What Vertex AI accepts, in one place: artifact schema titles, pipeline job ids, which
accelerators a training machine type can carry, and the Model Registry's rules (model IDs,
version aliases, labels, prebuilt serving images).

Plain data and checks, no client imports. Used by kubeflow_v2_runner.py (a bad machine spec is
refused when compiling, not an hour into a run), deploy/image_check.py (schema titles) and the
Vertex AI emulator (deploy/emulator/), which refuses what Vertex refuses.
"""

import re
from typing import Dict, Optional, Tuple

# Vertex ML Metadata refuses any other title when a pipeline run registers its artifact types:
# "MetadataSchema must include a schema title that satisfies the following regex: ..."
# (reported from Vertex in tensorflow/tfx-addons#249 and #259; the same pattern is TFX 1.16's
# compiler_utils._SCHEMA_TITLE_RE).
SCHEMA_TITLE = re.compile(r"^[a-z][a-z0-9-_]{2,20}[.][A-Z][a-zA-Z0-9-_]{2,49}$")
# aiplatform 1.165 (google/cloud/aiplatform/constants/pipeline.py _VALID_NAME_PATTERN).
PIPELINE_JOB_ID = re.compile(r"^[a-z][-a-z0-9]{0,127}$", re.IGNORECASE)


def schema_title_problem(title: str) -> Optional[str]:
    """None if Vertex accepts `title`, else Vertex's own error message."""
    if SCHEMA_TITLE.match(title or ""):
        return None
    return (f"INVALID_ARGUMENT: MetadataSchema must include a schema title that satisfies the "
            f"following regex: {SCHEMA_TITLE.pattern} (got {title!r})")


# Accelerators per machine family (Compute Engine, "GPU machine types" and "About GPUs",
# cloud.google.com/compute/docs/gpus; Vertex AI custom training takes the same pairings,
# cloud.google.com/vertex-ai/docs/training/configure-compute): the accelerator-optimized A2, A3
# and G2 machine types come with a fixed number of one GPU model attached, NVIDIA L4 only on
# G2; the other GPU models attach to N1 machine types (not the shared-core f1-micro and
# g1-small); no other machine series takes GPUs.
FIXED_GPUS: Dict[str, Tuple[str, int]] = {
    **{f"g2-standard-{cpus}": ("NVIDIA_L4", gpus) for cpus, gpus in (
        (4, 1), (8, 1), (12, 1), (16, 1), (24, 2), (32, 1), (48, 4), (96, 8))},
    **{f"a2-highgpu-{n}g": ("NVIDIA_TESLA_A100", n) for n in (1, 2, 4, 8)},
    "a2-megagpu-16g": ("NVIDIA_TESLA_A100", 16),
    **{f"a2-ultragpu-{n}g": ("NVIDIA_A100_80GB", n) for n in (1, 2, 4, 8)},
    **{f"a3-highgpu-{n}g": ("NVIDIA_H100_80GB", n) for n in (1, 2, 4, 8)},
    "a3-megagpu-8g": ("NVIDIA_H100_MEGA_80GB", 8),
    "a3-ultragpu-8g": ("NVIDIA_H200_141GB", 8),
}
# GPU model -> counts an N1 machine takes (Compute Engine's N1 GPU table; the vCPU and memory
# limits per count are not checked here).
N1_GPUS: Dict[str, Tuple[int, ...]] = {
    "NVIDIA_TESLA_T4": (1, 2, 4),
    "NVIDIA_TESLA_P4": (1, 2, 4),
    "NVIDIA_TESLA_P100": (1, 2, 4),
    "NVIDIA_TESLA_V100": (1, 2, 4, 8),
}
_N1 = re.compile(r"^n1-(standard|highmem|highcpu)-\d+$")


def machine_spec_problem(machine_type: str, accelerator_type: Optional[str] = None,
                         accelerator_count: int = 0) -> Optional[str]:
    """None if Vertex AI Training accepts this machine spec, else why not (and what would do).

    `accelerator_type` None, "" or ACCELERATOR_TYPE_UNSPECIFIED means no accelerator."""
    accelerator = None if accelerator_type in (None, "", "ACCELERATOR_TYPE_UNSPECIFIED") \
        else accelerator_type
    count = int(accelerator_count or 0)
    fixed = FIXED_GPUS.get(machine_type)
    if accelerator is None:
        if count:
            return f"accelerator_count {count} without an accelerator_type"
        if fixed:
            return (f"machine type {machine_type} comes with {fixed[1]} {fixed[0]}: request "
                    f"accelerator_type {fixed[0]}, accelerator_count {fixed[1]}")
        return None
    if fixed:
        gpu, gpus = fixed
        if accelerator != gpu:
            return (f"machine type {machine_type} carries {gpu}, not {accelerator}"
                    + _where(accelerator))
        if count != gpus:
            return (f"machine type {machine_type} has exactly {gpus} {gpu}, not {count}"
                    + _where(accelerator, count))
        return None
    if _N1.match(machine_type or ""):
        counts = N1_GPUS.get(accelerator)
        if counts is None:
            return f"{accelerator} cannot be attached to N1 machine types" + _where(accelerator)
        if count not in counts:
            return (f"{accelerator} attaches to N1 machine types in counts of "
                    f"{', '.join(map(str, counts))}, not {count}")
        return None
    return (f"machine type {machine_type} takes no accelerators (only N1 and the "
            f"accelerator-optimized A2, A3 and G2 types do)" + _where(accelerator, count))


def _where(accelerator: str, count: int = 0) -> str:
    """'; it comes on ...' naming the machine types that carry `accelerator` (x `count`)."""
    types = [name for name, (gpu, gpus) in FIXED_GPUS.items()
             if gpu == accelerator and (not count or gpus == count)]
    if types:
        return f"; {accelerator}{f' x{count}' if count else ''} comes on {', '.join(types)}"
    if accelerator in N1_GPUS:
        return f"; {accelerator} attaches to N1 machine types, e.g. n1-standard-8"
    return ""


# ---- the Model Registry ----
# Checked independently of components/model_registry.py (which writes IDs, aliases and labels):
# the emulator refuses by these rules, so a fault in what the project writes shows there.

# "up to 63 characters, and valid characters are [a-z0-9_-]. The first character cannot be a
# number or hyphen." (aiplatform 1.165 Model.upload, model_id)
MODEL_ID = re.compile(r"^[a-z_][a-z0-9_-]{0,62}$")
# aiplatform 1.165 Model.upload (version_aliases) and "How to use model version aliases"
# (cloud.google.com/vertex-ai/docs/model-registry/model-alias): unique within a model, one
# version at a time, non-numerical; "default" is Vertex's own.
VERSION_ALIAS = re.compile(r"^[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]$")
# Google Cloud labels ("Requirements for labels", cloud.google.com/resource-manager/docs/
# labels-overview): at most 64; keys 1-63 characters, values 0-63, of lowercase letters,
# digits, underscores and dashes (international characters allowed); keys start with a
# lowercase letter or international character. Vertex reserves keys starting
# `aiplatform.googleapis/` (aiplatform's Model.upload docstring).
MAX_LABELS = 64
LABEL_LENGTH = 63
RESERVED_LABEL_PREFIX = "aiplatform.googleapis/"
# Prebuilt prediction images: <us|europe|asia>-docker.pkg.dev/vertex-ai/prediction/NAME:latest
PREBUILT_PREDICTION = re.compile(r"^(us|europe|asia)-docker\.pkg\.dev/vertex-ai/prediction/")


def _label_char(char: str) -> bool:
    return char in "_-" or char.isdigit() or (char.isalpha() and not char.isupper())


def label_problems(labels) -> list:
    """What Vertex refuses in a labels map (empty when it accepts it)."""
    if not isinstance(labels, dict):
        return [f"labels must be a map of strings, got {type(labels).__name__}"]
    problems = []
    if len(labels) > MAX_LABELS:
        problems.append(f"{len(labels)} labels: at most {MAX_LABELS}")
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str):
            problems.append(f"label {key!r}: keys and values must be strings")
            continue
        if key.startswith(RESERVED_LABEL_PREFIX):
            problems.append(f"label key {key!r}: keys starting {RESERVED_LABEL_PREFIX} are "
                            "reserved")
        elif not 1 <= len(key) <= LABEL_LENGTH:
            problems.append(f"label key {key!r}: 1 to {LABEL_LENGTH} characters")
        elif not (key[0].isalpha() and not key[0].isupper()):
            problems.append(f"label key {key!r} must start with a lowercase letter")
        elif not all(_label_char(char) for char in key):
            problems.append(f"label key {key!r}: only lowercase letters, digits, '_' and '-'")
        if len(value) > LABEL_LENGTH:
            problems.append(f"label {key!r} value {value!r}: at most {LABEL_LENGTH} characters")
        elif not all(_label_char(char) for char in value):
            problems.append(f"label {key!r} value {value!r}: only lowercase letters, digits, "
                            "'_' and '-'")
    return problems


def alias_problem(alias: str) -> Optional[str]:
    if not isinstance(alias, str) or not VERSION_ALIAS.match(alias):
        return (f"version alias {alias!r} does not match {VERSION_ALIAS.pattern} (and must "
                "not be a number: version IDs are)")
    return None


def model_id_problem(model_id: str) -> Optional[str]:
    if not isinstance(model_id, str) or not MODEL_ID.match(model_id):
        return (f"model_id {model_id!r}: up to 63 characters of [a-z0-9_-], not starting "
                "with a digit or '-'")
    return None
