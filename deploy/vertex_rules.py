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


# Accelerator types: aiplatform 1.165's `AcceleratorType` enum (google/cloud/aiplatform_v1/
# types/accelerator_type.py; tests/test_vertex_emulation.py checks this list against it). A
# request naming anything else fails in the client before it reaches Vertex.
ACCELERATOR_TYPES = (
    "NVIDIA_TESLA_K80", "NVIDIA_TESLA_P100", "NVIDIA_TESLA_V100", "NVIDIA_TESLA_P4",
    "NVIDIA_TESLA_T4", "NVIDIA_TESLA_A100", "NVIDIA_A100_80GB", "NVIDIA_L4", "NVIDIA_H100_80GB",
    "NVIDIA_H100_MEGA_80GB", "NVIDIA_H200_141GB", "NVIDIA_B200", "NVIDIA_GB200",
    "NVIDIA_RTX_PRO_6000", "TPU_V2", "TPU_V3", "TPU_V4_POD", "TPU_V5_LITEPOD")

# Machine types that come with their accelerators (Compute Engine "GPU machine types",
# cloud.google.com/compute/docs/gpus, and Vertex AI "Configure compute resources for custom
# training", cloud.google.com/vertex-ai/docs/training/configure-compute): the accelerator-
# optimized A2, A3, A4, A4X, G2 and G4 types carry a fixed number of one GPU model; TPU VMs
# likewise (v2/v3 as `cloud-tpu` with 8 cores, v4 as ct4p, v5e as ct5lp). NVIDIA L4 only on
# G2, RTX PRO 6000 only on G4; no other machine series but N1 takes accelerators.
FIXED_GPUS: Dict[str, Tuple[str, int]] = {
    **{f"g2-standard-{cpus}": ("NVIDIA_L4", gpus) for cpus, gpus in (
        (4, 1), (8, 1), (12, 1), (16, 1), (24, 2), (32, 1), (48, 4), (96, 8))},
    **{f"g4-standard-{cpus}": ("NVIDIA_RTX_PRO_6000", gpus) for cpus, gpus in (
        (48, 1), (96, 2), (192, 4), (384, 8))},
    **{f"a2-highgpu-{n}g": ("NVIDIA_TESLA_A100", n) for n in (1, 2, 4, 8)},
    "a2-megagpu-16g": ("NVIDIA_TESLA_A100", 16),
    **{f"a2-ultragpu-{n}g": ("NVIDIA_A100_80GB", n) for n in (1, 2, 4, 8)},
    **{f"a3-highgpu-{n}g": ("NVIDIA_H100_80GB", n) for n in (1, 2, 4, 8)},
    "a3-megagpu-8g": ("NVIDIA_H100_MEGA_80GB", 8),
    "a3-ultragpu-8g": ("NVIDIA_H200_141GB", 8),
    "a4-highgpu-8g": ("NVIDIA_B200", 8),
    "a4x-highgpu-4g": ("NVIDIA_GB200", 4),
    "ct4p-hightpu-4t": ("TPU_V4_POD", 4),
    **{f"ct5lp-hightpu-{n}t": ("TPU_V5_LITEPOD", n) for n in (1, 4, 8)},
}
# `cloud-tpu` takes either TPU v2 or v3, 8 cores (Vertex's configure-compute page).
CLOUD_TPU = ("cloud-tpu", ("TPU_V2", "TPU_V3"), 8)
# GPU model -> {count on an N1 machine: (most vCPUs, most memory in GB)} (Compute Engine's N1
# GPU table, cloud.google.com/compute/docs/gpus; the same figures as SkyPilot's GCP catalog,
# sky/clouds/service_catalog/gcp_catalog.py). P100 x4 allows 96 vCPUs in most zones, 64 in
# us-east1-c, europe-west1-b and -d: the emulator takes the larger (zones are not modelled).
# K80 is past its end of support (2024) and refused.
N1_GPUS: Dict[str, Dict[int, Tuple[int, int]]] = {
    "NVIDIA_TESLA_T4": {1: (48, 312), 2: (48, 312), 4: (96, 624)},
    "NVIDIA_TESLA_P4": {1: (24, 156), 2: (48, 312), 4: (96, 624)},
    "NVIDIA_TESLA_P100": {1: (16, 104), 2: (32, 208), 4: (96, 624)},
    "NVIDIA_TESLA_V100": {1: (12, 78), 2: (24, 156), 4: (48, 312), 8: (96, 624)},
}
_N1 = re.compile(r"^n1-(standard|highmem|highcpu)-(\d+)$")
# GB of memory per vCPU of the N1 predefined types (Compute Engine, general-purpose machines).
_N1_MEMORY_PER_CPU = {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}


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
    if accelerator not in ACCELERATOR_TYPES:
        return (f"{accelerator} is not an accelerator type Vertex AI knows (aiplatform 1.165: "
                f"{', '.join(ACCELERATOR_TYPES)})")
    if fixed:
        gpu, gpus = fixed
        if accelerator != gpu:
            return (f"machine type {machine_type} carries {gpu}, not {accelerator}"
                    + _where(accelerator))
        if count != gpus:
            return (f"machine type {machine_type} has exactly {gpus} {gpu}, not {count}"
                    + _where(accelerator, count))
        return None
    if machine_type == CLOUD_TPU[0]:
        if accelerator not in CLOUD_TPU[1] or count != CLOUD_TPU[2]:
            return (f"machine type cloud-tpu takes {' or '.join(CLOUD_TPU[1])} with "
                    f"accelerator_count {CLOUD_TPU[2]}, not {accelerator} x{count}")
        return None
    n1 = _N1.match(machine_type or "")
    if n1:
        return _n1_problem(machine_type, n1.group(1), int(n1.group(2)), accelerator, count)
    return (f"machine type {machine_type} takes no accelerators (only N1, cloud-tpu and the "
            f"accelerator-optimized types do)" + _where(accelerator, count))


def _n1_problem(machine_type: str, kind: str, cpus: int, accelerator: str,
                count: int) -> Optional[str]:
    limits = N1_GPUS.get(accelerator)
    if accelerator == "NVIDIA_TESLA_K80":
        return ("NVIDIA_TESLA_K80 reached its end of support in 2024 (aiplatform marks it "
                "deprecated); choose NVIDIA_TESLA_T4 or another GPU" + _where("NVIDIA_TESLA_T4"))
    if limits is None:
        return f"{accelerator} cannot be attached to N1 machine types" + _where(accelerator)
    if count not in limits:
        return (f"{accelerator} attaches to N1 machine types in counts of "
                f"{', '.join(map(str, limits))}, not {count}")
    most_cpus, most_memory = limits[count]
    memory = cpus * _N1_MEMORY_PER_CPU[kind]
    if cpus > most_cpus or memory > most_memory:
        fits = [n for n, (c, m) in sorted(limits.items()) if cpus <= c and memory <= m]
        return (f"{machine_type} has {cpus} vCPUs and {memory:g} GB; with {count} x "
                f"{accelerator} an N1 machine has at most {most_cpus} vCPUs and {most_memory} GB"
                + (f": attach {fits[0]}, or choose a smaller machine type" if fits else
                   ": choose a smaller machine type"))
    return None


def _where(accelerator: str, count: int = 0) -> str:
    """'; it comes on ...' naming the machine types that carry `accelerator` (x `count`)."""
    types = [name for name, (gpu, gpus) in FIXED_GPUS.items()
             if gpu == accelerator and (not count or gpus == count)]
    if types:
        return f"; {accelerator}{f' x{count}' if count else ''} comes on {', '.join(types)}"
    if accelerator in N1_GPUS:
        return f"; {accelerator} attaches to N1 machine types, e.g. n1-standard-8"
    if accelerator in CLOUD_TPU[1]:
        return f"; {accelerator} comes on cloud-tpu (x{CLOUD_TPU[2]})"
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
