"""The compiled Vertex AI pipeline, run on this machine as Vertex AI would run it.

README's "Try the Vertex pipeline locally" commands, run as written in a fresh copy of the
repository and shared by one module fixture: a span of demo data, the compile
(`kubeflow_v2_runner.py`, no credentials: spans, warm start, Dataflow arguments, Vertex AI Training
with a GPU machine spec, the Model Registry with an endpoint), `python -m deploy.emulate` on
span 1 (16 generated images, 64 px, 1 epoch), then span 2 and the same command again; each
push lands in the emulated registry.
A negative control runs the image with one package left out. The rest are fast checks of the
pieces: Vertex's filter syntax and schema-title rule, machine/accelerator pairings, the
custom-job stand-in against its JobService, the image layout, the KFP v2 refusals.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import urllib.parse

import pytest

from tests import readme

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT, REGION = "my-project", "us-central1"
IMAGE = "us-docker.pkg.dev/my-project/petseg/pipeline:1"
BUCKET = "my-bucket"
ROOT = f"gs://{BUCKET}/petseg/root"
# README "Try the Vertex pipeline locally", as written: a span, the compile, the
# emulated run; then span 2 and the same run again. The smallest sizes are the commands' own
# flags there (16 images, 64 px, 1 epoch; a gate every model passes, so both runs push).
MAKE_SPAN_1 = ("$ENV/bin/python -m oxford_pet make-demo-data workdir/gcs/my-bucket/petseg/data "
               "--span 1 --count 16 --min-size 64 --max-size 96")
MAKE_SPAN_2 = ("$ENV/bin/python -m oxford_pet make-demo-data workdir/gcs/my-bucket/petseg/data "
               "--span 2 --count 16 --min-size 64 --max-size 96")
COMPILE = ("$ENV/bin/python kubeflow_v2_runner.py --project my-project --region us-central1 "
           "--image us-docker.pkg.dev/my-project/petseg/pipeline:1 "
           "--pipeline-root gs://my-bucket/petseg/root --data-dir gs://my-bucket/petseg/data "
           "--serving-dir gs://my-bucket/petseg/serving --span-pattern 'span-{SPAN}' "
           "--warm-start --dataflow-temp-location gs://my-bucket/petseg/tmp "
           "--vertex-training --training-machine-type n1-standard-8 "
           "--accelerator-type NVIDIA_TESLA_T4 --accelerator-count 1 "
           "--epochs 1 --warm-start-epochs 1 --image-size 64 --batch-size 4 "
           "--encoder-weights none --min-pixel-accuracy 0 --max-pixel-accuracy-drop 1 "
           "--vertex-model pet-unet --vertex-endpoint pet-segmentation "
           "--output build/pipeline.json")
EMULATE = "$ENV/bin/python -m deploy.emulate --template build/pipeline.json --gcs-dir workdir/gcs"
TEMPLATE, GCS = "build/pipeline.json", "workdir/gcs"  # as the commands name them
MACHINE = {"machine_type": "n1-standard-8", "accelerator_type": "NVIDIA_TESLA_T4",
           "accelerator_count": 1}
REGISTRY_MODEL = f"projects/123456789012/locations/{REGION}/models/pet-unet"  # project number
IMAGES_PER_SPAN = 16


def job_summary(output, gcs_dir):
    """The emulator's record of the job its output names (job.json), or None."""
    import re

    found = re.search(r"\] job ([-a-z0-9]+): ", output)
    if not found:
        return None
    job_id = found.group(1)
    path = os.path.join(gcs_dir, ".vertex-emulator", "jobs", job_id, "job.json")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def emulate(template, gcs_dir, *extra):
    """`python -m deploy.emulate ...` as a user runs it: (exit code, stdout, job summary)."""
    result = subprocess.run(
        [sys.executable, "-m", "deploy.emulate", "--template", template, "--gcs-dir", gcs_dir,
         *extra], cwd=REPO, capture_output=True, text=True, timeout=1800)
    output = result.stdout + result.stderr
    summary = job_summary(output, gcs_dir)
    return result.returncode, output, summary


def job_dir(gcs_dir, summary):
    return os.path.join(gcs_dir, ".vertex-emulator", "jobs", summary["job_id"])


def store_data(gcs_dir):
    with open(os.path.join(gcs_dir, ".vertex-emulator", "metadata.json")) as handle:
        return json.load(handle)


def output_artifact(gcs_dir, summary, task, key):
    [name] = summary["tasks"][task]["outputs"][key]
    return store_data(gcs_dir)["artifacts"][name]


# ---- one compile and two emulated runs, shared ----

@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """README's first two commands in a fresh copy of the repository."""
    repo = readme.sandbox(tmp_path_factory.mktemp("vertex"))
    made = readme.run(MAKE_SPAN_1, cwd=repo)
    assert made.returncode == 0, made.stderr[-3000:]
    result = readme.run(COMPILE, cwd=repo)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return {"repo": repo, "gcs": os.path.join(repo, GCS),
            "template": os.path.join(repo, TEMPLATE), "printed": result.stdout}


def emulate_as_readme_shows(repo, gcs_dir):
    """README's `python -m deploy.emulate ...`: (exit code, output, job summary)."""
    result = readme.run(EMULATE, cwd=repo)
    output = result.stdout + result.stderr
    return result.returncode, output, job_summary(output, gcs_dir)


@pytest.fixture(scope="module")
def emulated(compiled):
    repo, gcs = compiled["repo"], compiled["gcs"]
    first = emulate_as_readme_shows(repo, gcs)
    made = readme.run(MAKE_SPAN_2, cwd=repo)  # new data arrives; the same pipeline runs again
    assert made.returncode == 0, made.stderr[-3000:]
    second = emulate_as_readme_shows(repo, gcs)
    return {**compiled, "first": first, "second": second}


def test_the_compile_writes_nothing_to_cloud_storage_and_keeps_gs_paths(compiled):
    """The compile uploads nothing (no user-module wheel): before the first emulated run the
    local Cloud Storage holds only the data the first command made."""
    assert os.listdir(os.path.join(compiled["gcs"], BUCKET, "petseg")) == ["data"]
    with open(compiled["template"]) as handle:
        job = json.load(handle)
    assert GCS not in json.dumps(job)  # the JSON a user submits: gs:// only
    printed = compiled["printed"]
    assert (f"python -m deploy.vertex submit --template {TEMPLATE} --project "
            f"{PROJECT} --region {REGION} --pipeline-root {ROOT}") in printed
    assert f"python -m deploy.emulate --template {TEMPLATE} --gcs-dir DIR" in printed


@pytest.mark.readme_command(MAKE_SPAN_1, COMPILE, EMULATE, MAKE_SPAN_2)
def test_first_run_every_task_succeeded(emulated):
    code, output, summary = emulated["first"]
    assert code == 0, output[-6000:]
    with open(emulated["template"]) as handle:
        tasks = json.load(handle)["pipelineSpec"]["root"]["dag"]["tasks"]
    assert set(summary["tasks"]) == set(tasks)
    assert {task["state"] for task in summary["tasks"].values()} == {"SUCCEEDED"}
    for name in tasks:  # one line as it starts, one as it ends with state and seconds
        assert f"START   {name} (" in output
        assert any(line.split("] ", 1)[-1].startswith(f"END     {name} SUCCEEDED in ")
                   and " s" in line for line in output.splitlines()), name
    assert f"job {summary['job_id']} SUCCEEDED" in output
    # Dataflow arguments were replaced, and the emulator says so once a job.
    assert output.count("every later step that asks for Dataflow: Dataflow -> Beam "
                        "DirectRunner") == 1
    assert "--runner=DataflowRunner" in output and "--machine_type=n1-standard-4" in output


def test_first_run_pushed_version_1_which_turns_a_jpeg_into_a_mask(emulated):
    import numpy as np
    import tensorflow as tf

    from oxford_pet import layout

    serving = os.path.join(emulated["gcs"], BUCKET, "petseg", "serving", "pet_unet")
    assert os.path.isfile(os.path.join(serving, "1", "saved_model.pb"))
    span_1 = layout.span_dir(os.path.join(emulated["gcs"], BUCKET, "petseg", "data"), 1)
    entry = layout.read_list(os.path.join(span_1, layout.LIST_FILE))[0]
    with open(layout.image_path(span_1, entry.name), "rb") as handle:
        jpeg = handle.read()
    serve = tf.saved_model.load(os.path.join(serving, "1")).signatures["serving_default"]
    class_ids = serve(image_bytes=tf.constant([jpeg]))["class_ids"].numpy()
    assert class_ids.shape == (1, 64, 64)
    assert set(np.unique(class_ids).tolist()) <= {0, 1, 2}


def test_first_run_wrote_the_report(emulated):
    _, _, summary = emulated["first"]
    report = output_artifact(emulated["gcs"], summary, "EvaluationReport", "report")
    assert report["schema_title"] == "petseg.EvaluationReport" and report["state"] == "LIVE"
    html = os.path.join(emulated["gcs"], report["uri"][len("gs://"):], "report.html")
    with open(html) as handle:
        text = handle.read()
    assert text.lstrip().lower().startswith("<!doctype html") and len(text) > 10_000
    with open(os.path.join(os.path.dirname(html), "facts.json")) as handle:
        facts = json.load(handle)
    # Ingest counts arrive as Vertex's JSON structs: decoded, not lost.
    assert facts["data"]["splits"]["train"]["ingested"] + \
        facts["data"]["splits"]["eval"]["ingested"] == IMAGES_PER_SPAN
    assert facts["push"]["pushed"] is True and facts["push"]["version"] == "1"
    # What a report on gs:// silently lost while its readers looked with os.path: the training
    # history, the thresholds, the sample predictions and the model's facts.
    assert facts["history"]["loss"] and facts["verdict"]["thresholds"]
    assert facts["samples"].get("scored") == IMAGES_PER_SPAN // 2, facts["samples"]
    assert facts["model"]["architecture"] and facts["model"]["path"].startswith("gs://")


def test_every_step_saw_gs_uris_and_read_and_wrote_the_bucket(emulated):
    """Steps were handed the compiled gs:// URIs (nothing local), read the data through the
    Cloud Storage API, and their outputs (the ingest report among them) are in the bucket."""
    gcs = emulated["gcs"]
    _, output, summary = emulated["first"]
    inputs_dir = os.path.join(job_dir(gcs, summary), "executor_inputs")
    for name in os.listdir(inputs_dir):
        with open(os.path.join(inputs_dir, name)) as handle:
            text = handle.read()
        assert gcs not in text and os.path.realpath(gcs) not in text, name
    with open(os.path.join(inputs_dir, "OxfordPetExampleGen.json")) as handle:
        handed = json.load(handle)
    assert handed["inputs"]["parameters"]["input_base"]["stringValue"] == \
        f"gs://{BUCKET}/petseg/data"
    assert "python3.10" in output or "Python 3.10" in output  # the image's Python
    with open(os.path.join(gcs, ".vertex-emulator", "storage", summary["job_id"],
                           "storage-requests.log")) as handle:
        requests = urllib.parse.unquote(handle.read())
    read = {line.rsplit("/", 1)[1].split(" ")[0] for line in requests.splitlines()
            if f" GET storage.googleapis.com/{BUCKET}/petseg/data/span-1/images/" in line}
    assert len(read) == IMAGES_PER_SPAN  # each image's bytes, read from the bucket
    examples = output_artifact(gcs, summary, "OxfordPetExampleGen", "examples")
    assert examples["uri"].startswith(f"gs://{BUCKET}/petseg/root/")
    ingest = os.path.join(gcs, examples["uri"][len("gs://"):], "ingest")
    with open(os.path.join(ingest, "ingest_report.json")) as handle:
        assert sum(split["ingested"] for split in json.load(handle)["splits"].values()) == \
            IMAGES_PER_SPAN
    with open(os.path.join(ingest, "outcomes.jsonl")) as handle:
        assert len(handle.read().splitlines()) == IMAGES_PER_SPAN


def test_the_trainer_ran_as_a_vertex_custom_job_with_the_requested_machine(emulated):
    _, output, summary = emulated["first"]
    records = glob.glob(os.path.join(job_dir(emulated["gcs"], summary), "custom_jobs", "*.json"))
    assert len(records) == 1, records
    with open(records[0]) as handle:
        record = json.load(handle)
    assert record["task"] == "Trainer"
    assert record["parent"] == f"projects/{PROJECT}/locations/{REGION}"
    assert record["endpoint"] == f"{REGION}-aiplatform.googleapis.com"
    [pool] = record["custom_job"]["job_spec"]["worker_pool_specs"]
    assert {key: pool["machine_spec"][key] for key in MACHINE} == MACHINE
    assert pool["container_spec"]["image_uri"] == IMAGE
    assert pool["container_spec"]["command"][:3] == ["python", "-m", "tfx.scripts.run_executor"]
    assert "tfx.components.trainer.executor.GenericExecutor" in pool["container_spec"]["command"]
    assert "Trainer: Vertex AI custom job" in output and "with 1 x NVIDIA_TESLA_T4" in output
    with open(record["log"]) as handle:
        assert "Training complete" in handle.read()  # the job ran the trainer, not the step


def test_second_run_warm_starts_from_and_compares_with_run_1_and_pushes_version_2(emulated):
    gcs = emulated["gcs"]
    code, output, second = emulated["second"]
    assert code == 0, output[-6000:]
    _, _, first = emulated["first"]
    run_1_model = output_artifact(gcs, first, "Trainer", "model")
    # The resolvers answered from the store: run 1's blessing, then run 1's model.
    resolved = second["tasks"]["latest_blessed_model_resolver-model-resolver"]["outputs"]
    assert resolved == {"model": [run_1_model["name"]]}
    inputs_dir = os.path.join(job_dir(gcs, second), "executor_inputs")
    with open(os.path.join(inputs_dir, "Evaluator.json")) as handle:
        evaluator = json.load(handle)["inputs"]["artifacts"]
    assert [a["name"] for a in evaluator["baseline_model"]["artifacts"]] == [run_1_model["name"]]
    blessing = output_artifact(gcs, second, "Evaluator", "blessing")
    assert blessing["metadata"]["blessed"] == 1
    assert blessing["metadata"]["baseline_model_id"] == run_1_model["name"]
    with open(os.path.join(inputs_dir, "Trainer.json")) as handle:
        trainer = json.load(handle)["inputs"]["artifacts"]
    assert [a["uri"] for a in trainer["base_model"]["artifacts"]] == [run_1_model["uri"]]
    [record] = glob.glob(os.path.join(job_dir(gcs, second), "custom_jobs", "*.json"))
    with open(json.load(open(record))["log"]) as handle:
        log = handle.read()
    assert "[Trainer] warm start from " in log and ": loaded; 1 epochs" in log
    # Span 2 was read, and version 2 pushed beside version 1.
    examples = output_artifact(gcs, second, "OxfordPetExampleGen", "examples")
    # ExampleGen records the span as a custom property; a Vertex artifact's metadata keeps a
    # custom property that shares a declared property's name as "custom:<name>" (TFX
    # kubeflow_v2_entrypoint_utils._get_json_metadata_mapping).
    assert examples["metadata"]["custom:span"] == 2
    serving = os.path.join(gcs, BUCKET, "petseg", "serving", "pet_unet")
    assert sorted(name for name in os.listdir(serving) if name.isdigit()) == ["1", "2"]
    with open(os.path.join(serving, "2", "push_manifest.json")) as handle:
        manifest = json.load(handle)
    assert manifest["blessing"]["baseline"]["version"] == 1
    assert manifest["data"]["span"] == 2 and manifest["data"]["splits"]["train"]["ingested"] > 0
    # The schema did not change: Vertex's cache gives run 1's output back.
    assert second["tasks"]["ImportSchemaGen"]["state"] == "CACHED"
    assert second["tasks"]["ImportSchemaGen"]["outputs"] == \
        first["tasks"]["ImportSchemaGen"]["outputs"]


def test_both_pushes_are_versions_of_one_registry_model_served_from_the_endpoint(emulated):
    gcs = emulated["gcs"]
    _, _, first = emulated["first"]
    _, output, second = emulated["second"]
    with open(os.path.join(gcs, ".vertex-emulator", "model_registry.json")) as handle:
        state = json.load(handle)
    assert list(state["models"]) == [REGISTRY_MODEL]
    versions = state["models"][REGISTRY_MODEL]["versions"]
    assert [entry["version_id"] for entry in versions] == ["1", "2"]
    assert sorted(versions[0]["version_aliases"]) == ["v1"]
    assert sorted(versions[1]["version_aliases"]) == ["blessed", "default", "v2"]
    serving = os.path.join(gcs, BUCKET, "petseg", "serving", "pet_unet")
    for number, (entry, summary) in enumerate(zip(versions, (first, second)), start=1):
        with open(os.path.join(serving, str(number), "push_manifest.json")) as handle:
            manifest = json.load(handle)
        assert entry["artifact_uri"] == f"gs://{BUCKET}/petseg/serving/pet_unet/{number}"
        assert entry["container_spec"] == {
            "image_uri": "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"}
        labels = entry["labels"]
        assert labels["serving_version"] == str(number) and labels["data_span"] == str(number)
        assert labels["pipeline_run"] == summary["job_id"] == manifest["pipeline_run"]
        accuracy = manifest["blessing"]["metrics"]["pixel_accuracy"]
        assert labels["pixel_accuracy"] == f"{accuracy:.4f}".replace(".", "_")
        assert entry["uploaded_by"] == "VersionedPusher"
        assert manifest["vertex_model"]["model_id"] == "pet-unet"  # what rollback reads
    assert versions[1]["labels"]["baseline_version"] == "1"
    pushed = output_artifact(gcs, second, "VersionedPusher", "pushed_model")["metadata"]
    assert (pushed["vertex_model"], pushed["vertex_model_version"]) == (REGISTRY_MODEL, "2")
    [endpoint] = state["endpoints"].values()
    assert endpoint["display_name"] == "pet-segmentation"
    [deployed] = endpoint["deployed_models"]
    assert (deployed["model"], deployed["model_version_id"]) == (REGISTRY_MODEL, "2")
    assert endpoint["traffic_split"] == {deployed["id"]: 100}
    assert [model["model_version_id"] for model in endpoint["undeployed_models"]] == ["1"]
    assert f"VersionedPusher: Model Registry: {REGISTRY_MODEL} version 2 uploaded" in output


@pytest.mark.e2e  # an emulated job
def test_a_package_the_image_lacks_fails_the_step_that_imports_it(compiled, tmp_path):
    """Negative control: the same Dockerfile with oxford_pet/ left out of the build context
    (a Dockerfile-specific ignore file, as BuildKit reads it); every step a fresh process."""
    dockerfile = tmp_path / "Dockerfile"
    shutil.copyfile(os.path.join(REPO, "Dockerfile"), dockerfile)
    with open(os.path.join(REPO, ".dockerignore")) as handle:
        (tmp_path / "Dockerfile.dockerignore").write_text(handle.read() + "\noxford_pet\n")
    gcs = str(tmp_path / "gcs")
    shutil.copytree(os.path.join(compiled["gcs"], BUCKET, "petseg", "data"),
                    os.path.join(gcs, BUCKET, "petseg", "data"),
                    ignore=shutil.ignore_patterns(".vertex-emulator"))
    code, output, summary = emulate(compiled["template"], gcs, "--dockerfile", str(dockerfile),
                                    "--context", REPO, "--cold-start")
    assert code == 1, output[-4000:]
    assert "END     OxfordPetExampleGen FAILED" in output
    assert "error: ModuleNotFoundError: No module named 'oxford_pet'" in output
    assert "module 'oxford_pet' is in the build context but not in the image" in output
    log = summary["tasks"]["OxfordPetExampleGen"]["log"]
    assert f"--- full log: {log}" in output and os.path.isfile(log)
    assert summary["tasks"]["ImportSchemaGen"]["state"] == "SUCCEEDED"  # it imports no oxford_pet
    assert summary["tasks"]["Trainer"]["state"] == "NOT_RUN"
    assert not os.path.exists(os.path.join(gcs, BUCKET, "petseg", "serving"))


WRITES = ("import json, os, sys\n"
          "uri = json.loads(sys.argv[1])['outputs']['artifacts']['out']['artifacts'][0]['uri']\n")
WITH_OPEN = WRITES + ("os.makedirs(uri, exist_ok=True)\n"
                      "open(os.path.join(uri, 'x.txt'), 'w').write('lost')\n")
WITH_GFILE = WRITES + ("import tensorflow as tf\n"
                       "tf.io.gfile.GFile(uri + '/x.txt', 'w').write('kept')\n")


def _job(tasks):
    """A PipelineJob of container tasks `{name: python script}` (each gets the ExecutorInput
    as its argument and declares one output artifact, `out`)."""
    return {
        "displayName": "writes", "runtimeConfig": {"gcsOutputDirectory": f"gs://{BUCKET}/root"},
        "pipelineSpec": {
            "pipelineInfo": {"name": "writes"}, "schemaVersion": "2.0.0",
            "root": {"dag": {"tasks": {name: {"componentRef": {"name": name},
                                              "taskInfo": {"name": name}} for name in tasks}}},
            "components": {name: {"executorLabel": f"{name}_executor", "outputDefinitions": {
                "artifacts": {"out": {"artifactType": {
                    "instanceSchema": "title: tfx.Examples\ntype: object\n"}}}}}
                for name in tasks},
            "deploymentSpec": {"executors": {f"{name}_executor": {"container": {
                "image": IMAGE, "command": ["python", "-c", script, "{{$}}"]}}
                for name, script in tasks.items()}}}}


def test_a_step_that_writes_a_gs_uri_with_open_fails_naming_the_files(tmp_path):
    """Negative control: open() on a gs:// URI writes a local `gs:` folder, which on Vertex is
    lost with the container; the emulator fails the step and names what it wrote. The same
    write through tf.io.gfile lands in the bucket."""
    template = tmp_path / "writes.json"
    template.write_text(json.dumps(_job({"WithOpen": WITH_OPEN, "WithGfile": WITH_GFILE})))
    gcs = tmp_path / "gcs"
    (gcs / BUCKET).mkdir(parents=True)
    code, output, summary = emulate(str(template), str(gcs))
    assert code == 1, output[-4000:]
    assert summary["tasks"]["WithGfile"]["state"] == "SUCCEEDED"
    failed = summary["tasks"]["WithOpen"]
    assert failed["state"] == "FAILED"
    assert "files under a local path that looks like a gs:// URI (on Vertex these files are " \
           "lost with the container): gs:/my-bucket/root/" in failed["message"]
    assert failed["message"].split(": gs:/", 1)[1].split(";")[0].endswith("/out/x.txt")
    kept = glob.glob(str(gcs / BUCKET / "root" / "*" / "*" / "WithGfile_*" / "out" / "x.txt"))
    assert len(kept) == 1 and open(kept[0]).read() == "kept"
    assert not glob.glob(str(gcs / BUCKET / "root" / "*" / "*" / "WithOpen_*" / "out" / "x.txt"))


# ---- fast checks of the pieces ----

def test_two_images_are_the_emulators_limit_not_a_vertex_refusal(tmp_path):
    from deploy.emulator import run

    job = _job({"A": "pass", "B": "pass"})
    job["pipelineSpec"]["deploymentSpec"]["executors"]["B_executor"]["container"]["image"] = \
        "other/image:2"
    template = tmp_path / "two.json"
    template.write_text(json.dumps(job))
    lines = []
    options = run.Options(template=str(template), gcs_dir=str(tmp_path),
                          dockerfile=os.path.join(REPO, "Dockerfile"), context=REPO)
    assert run.EmulatedJob(options, out=lines.append).run() == 2
    text = "\n".join(lines)
    assert "The emulator cannot run this job (Vertex AI would)" in text
    assert "refuses" not in text and "START" not in text

def test_vertex_refuses_a_schema_title_outside_its_rule_before_any_task(compiled, tmp_path):
    from deploy.emulator import run

    with open(compiled["template"]) as handle:
        job = json.load(handle)
    outputs = job["pipelineSpec"]["components"]["EvaluationReport"]["outputDefinitions"]
    outputs["artifacts"]["report"]["artifactType"]["instanceSchema"] = \
        "title: EvaluationReport\ntype: object\n"
    template = tmp_path / "pipeline.json"
    template.write_text(json.dumps(job))
    lines = []
    options = run.Options(template=str(template), gcs_dir=str(tmp_path),
                          dockerfile=os.path.join(REPO, "Dockerfile"), context=REPO)
    assert run.EmulatedJob(options, out=lines.append).run() == 2  # bad input: nothing ran
    text = "\n".join(lines)
    assert "Vertex AI refuses to create the job" in text
    assert ("component EvaluationReport output 'report': INVALID_ARGUMENT: MetadataSchema must "
            "include a schema title that satisfies the following regex") in text
    assert "START" not in text and not os.path.exists(tmp_path / ".vertex-emulator")


def test_every_artifact_type_of_the_project_imports_from_its_schema_title():
    """What TFX's container entrypoint does with every artifact it is handed (tfx#5744)."""
    from tfx.types.artifact import Artifact

    import petseg
    from components import evaluation_report
    from deploy import image_check

    types = image_check.project_artifact_types(["petseg", "components"])
    assert evaluation_report.EvaluationReportArtifact in types and petseg.EvaluationReport in types
    for cls in types:
        assert image_check.check_artifact_type(cls) is None, cls

    class Elsewhere(Artifact):  # the shape of the fault the emulation found
        TYPE_NAME = "petseg.ElsewhereReport"

    problem = image_check.check_artifact_type(Elsewhere)
    assert "imports its schema title 'petseg.ElsewhereReport' as a class path and fails" in problem

    class NoNamespace(Artifact):
        TYPE_NAME = "EvaluationReport"

    assert "MetadataSchema must include a schema title" in image_check.check_artifact_type(
        NoNamespace)


def _artifact(store, title, metadata, contexts=("ctx",), state="LIVE", uri="gs://b/x"):
    artifact = store.new_artifact("x", title, "", uri, list(contexts))
    return store.update_artifact(artifact["name"], state=state, metadata=metadata)


def test_the_metadata_store_answers_vertex_filters(tmp_path):
    from deploy.emulator.store import MetadataStore

    store = MetadataStore(str(tmp_path / "metadata.json"), "projects/1/locations/r/"
                                                           "metadataStores/default")
    old = _artifact(store, "tfx.ModelBlessing", {"blessed": 1.0})
    _artifact(store, "tfx.ModelBlessing", {"blessed": 0.0})
    new = _artifact(store, "tfx.ModelBlessing", {"blessed": 1.0, "current_model_id": "m"})
    _artifact(store, "tfx.ModelBlessing", {"blessed": 1.0}, state="PENDING")
    _artifact(store, "tfx.ModelBlessing", {"blessed": 1.0}, contexts=("another pipeline",))
    blessed = 'schema_title="tfx.ModelBlessing" AND state=LIVE AND metadata.blessed.number_value=1'
    assert [a["name"] for a in store.list_artifacts(blessed, "ctx")] == [new["name"]]  # latest
    assert [a["name"] for a in store.list_artifacts(blessed, "ctx", limit=5)] == \
        [new["name"], old["name"]]
    assert store.list_artifacts('schema_title="tfx.Model" AND state=LIVE', "ctx") == []
    # AIP-160: OR binds tighter than AND.
    assert len(store.list_artifacts('state=PENDING AND schema_title="tfx.Model" OR '
                                    'schema_title="tfx.ModelBlessing"', "ctx", limit=9)) == 1
    assert len(store.list_artifacts('metadata."current_model_id".string_value="m"', "ctx")) == 1
    assert len(store.list_artifacts('in_context("another pipeline")', "ctx", limit=9)) == 1


@pytest.mark.parametrize("text, refused", [
    ("NOT state=LIVE", "NOT is not among the operators"),
    ("labels.team=\"a\"", "field 'labels.team' cannot be filtered on"),
    ("schema_title:\"tfx\"", "has-operator ':'"),
    ("metadata.blessed.int_value=1", "metadata.<key>.<number_value|string_value|bool_value>"),
    ("state=ALIVE", "an artifact state is one of"),
    ("((((((state=LIVE))))))", "nests deeper than 5"),
    ("create_time>\"yesterday\"", "RFC-3339"),
    ("has_label(\"x\")", "function has_label"),
    ("name=\"{{$.inputs.artifacts['x'].metadata['y']}}\"", "still holds a placeholder"),
])
def test_filters_the_store_cannot_evaluate_are_refused_by_name(tmp_path, text, refused):
    from deploy.emulator.store import FilterError, MetadataStore

    store = MetadataStore(str(tmp_path / "metadata.json"), "projects/1/locations/r/"
                                                           "metadataStores/default")
    with pytest.raises(FilterError, match=".*" + __import__("re").escape(refused)):
        store.list_artifacts(text, "ctx")


@pytest.mark.parametrize("machine, accelerator, count, problem", [
    ("n1-standard-8", "NVIDIA_L4", 2, "NVIDIA_L4 cannot be attached to N1 machine types; "
                                      "NVIDIA_L4 comes on g2-standard-4"),
    ("g2-standard-24", "NVIDIA_L4", 2, None),
    ("g2-standard-8", "NVIDIA_L4", 2, "has exactly 1 NVIDIA_L4, not 2; NVIDIA_L4 x2 comes on "
                                      "g2-standard-24"),
    ("g2-standard-8", "NVIDIA_TESLA_T4", 1, "carries NVIDIA_L4, not NVIDIA_TESLA_T4"),
    ("n1-standard-8", "NVIDIA_TESLA_T4", 1, None),
    ("n1-standard-8", "NVIDIA_TESLA_T4", 3, "in counts of 1, 2, 4, not 3"),
    ("n1-standard-8", None, 0, None),
    ("e2-standard-8", "NVIDIA_TESLA_T4", 1, "takes no accelerators"),
    ("a2-highgpu-2g", "NVIDIA_TESLA_A100", 2, None),
    ("a2-highgpu-2g", None, 0, "comes with 2 NVIDIA_TESLA_A100"),
    # vCPU and memory limits per GPU count on N1 (Compute Engine's N1 GPU table)
    ("n1-standard-96", "NVIDIA_TESLA_T4", 1, "with 1 x NVIDIA_TESLA_T4 an N1 machine has at "
                                             "most 48 vCPUs and 312 GB: attach 4"),
    ("n1-standard-96", "NVIDIA_TESLA_T4", 4, None),
    ("n1-standard-64", "NVIDIA_TESLA_V100", 1, "at most 12 vCPUs and 78 GB: attach 8"),
    ("n1-highmem-64", "NVIDIA_TESLA_T4", 2, "has 64 vCPUs and 416 GB"),
    ("n1-standard-12", "NVIDIA_TESLA_V100", 1, None),
    ("n1-standard-8", "NVIDIA_TESLA_K80", 1, "end of support"),
    # what aiplatform 1.165 lists beyond the N1/A2/A3/G2 generation
    ("a4-highgpu-8g", "NVIDIA_B200", 8, None),
    ("a4x-highgpu-4g", "NVIDIA_GB200", 4, None),
    ("g4-standard-96", "NVIDIA_RTX_PRO_6000", 2, None),
    ("g4-standard-48", "NVIDIA_L4", 1, "carries NVIDIA_RTX_PRO_6000"),
    ("ct5lp-hightpu-4t", "TPU_V5_LITEPOD", 4, None),
    ("cloud-tpu", "TPU_V3", 8, None),
    ("cloud-tpu", "TPU_V2", 4, "takes TPU_V2 or TPU_V3 with accelerator_count 8"),
    ("n1-standard-8", "NVIDIA_TESLA_T5", 1, "not an accelerator type Vertex AI knows"),
])
def test_vertex_machine_and_accelerator_pairings(machine, accelerator, count, problem):
    from deploy import vertex_rules

    found = vertex_rules.machine_spec_problem(machine, accelerator, count)
    assert found == problem if problem is None else problem in found


def test_the_accelerator_types_are_aiplatforms():
    from google.cloud.aiplatform_v1.types import AcceleratorType

    from deploy import vertex_rules

    assert vertex_rules.ACCELERATOR_TYPES == tuple(
        kind.name for kind in AcceleratorType if kind.name != "ACCELERATOR_TYPE_UNSPECIFIED")
    for gpu, _ in vertex_rules.FIXED_GPUS.values():
        assert gpu in vertex_rules.ACCELERATOR_TYPES


def _pool(**machine):
    return {"machine_spec": {"machine_type": "n1-standard-8", **machine}, "replica_count": 1,
            "container_spec": {"image_uri": IMAGE, "command": ["python", "-c", "pass"]}}


def test_the_custom_job_stand_in_talks_to_the_job_service_with_the_real_signatures(
        tmp_path, monkeypatch):
    import inspect

    from google.api_core import exceptions
    from google.cloud.aiplatform_v1.services.job_service import client as real
    from google.cloud.aiplatform_v1.types import JobState

    from deploy.emulator import processes, standin, training

    for method in ("__init__", "create_custom_job", "get_custom_job", "cancel_custom_job"):
        assert list(inspect.signature(getattr(standin.JobServiceClient, method)).parameters) == \
            list(inspect.signature(getattr(real.JobServiceClient, method)).parameters), method
    ran, said = [], []
    service = training.JobService(
        str(tmp_path / "jobs.sock"), str(tmp_path / "records"), str(tmp_path), IMAGE,
        lambda argv, env, task, log: ran.append(argv) or 0, said.append)
    monkeypatch.setenv(processes.SERVICE_ENV, str(tmp_path / "jobs.sock"))
    monkeypatch.setenv(processes.TASK_ENV, "Trainer")
    try:
        client = standin.JobServiceClient(
            client_options={"api_endpoint": f"{REGION}-aiplatform.googleapis.com"})
        parent = f"projects/{PROJECT}/locations/{REGION}"
        with pytest.raises(exceptions.InvalidArgument, match="cannot be attached to N1"):
            client.create_custom_job(parent=parent, custom_job={
                "display_name": "x", "job_spec": {"worker_pool_specs": [_pool(
                    accelerator_type="NVIDIA_L4", accelerator_count=2)]}})
        with pytest.raises(exceptions.InvalidArgument, match="not the pipeline image"):
            client.create_custom_job(parent=parent, custom_job={
                "display_name": "x", "job_spec": {"worker_pool_specs": [dict(
                    _pool(), container_spec={"image_uri": "other/image:1",
                                             "command": ["true"]})]}})
        with pytest.raises(exceptions.InvalidArgument, match="not served by the endpoint"):
            client.create_custom_job(parent="projects/p/locations/europe-west4", custom_job={
                "display_name": "x", "job_spec": {"worker_pool_specs": [_pool()]}})
        with pytest.raises(ValueError):  # the real client's message check: an unknown field
            client.create_custom_job(parent=parent, custom_job={"no_such_field": 1})
        job = client.create_custom_job(parent=parent, custom_job={
            "display_name": "ok", "job_spec": {"worker_pool_specs": [_pool(
                accelerator_type="NVIDIA_TESLA_T4", accelerator_count=1)]}})
        assert job.state == JobState.JOB_STATE_PENDING and job.name.startswith(parent)
        done = client.get_custom_job(name=job.name)
        assert done.state == JobState.JOB_STATE_SUCCEEDED
        assert ran == [["python", "-c", "pass"]]
        [record] = os.listdir(tmp_path / "records")
        with open(tmp_path / "records" / record) as handle:
            recorded = json.load(handle)
        assert recorded["custom_job"]["job_spec"]["worker_pool_specs"][0]["machine_spec"][
            "accelerator_type"] == "NVIDIA_TESLA_T4" and recorded["task"] == "Trainer"
    finally:
        service.close()


def test_the_warm_process_server_preloads_nothing_of_the_project():
    """A forked step must import the project's modules from the image layout, like a fresh
    interpreter: the server loads only the environment's third-party packages."""
    from deploy import image_check
    from deploy.emulator import processes

    project = {name.split(".")[0] for name in image_check.project_packages()}
    assert not {module.split(".")[0] for module in processes.PRELOAD} & project


def test_the_image_layout_follows_the_dockerfile_and_its_ignore_file(tmp_path):
    from deploy.emulator import image

    context = tmp_path / "context"
    (context / "pkg" / "__pycache__").mkdir(parents=True)
    (context / "pkg" / "__init__.py").write_text("")
    (context / "pkg" / "__pycache__" / "x.pyc").write_text("")
    (context / "notes").mkdir()
    (context / "notes" / "keep.md").write_text("")
    (context / "notes" / "drop.md").write_text("")
    (context / "lock.txt").write_text("")
    (context / ".dockerignore").write_text("**/__pycache__\nnotes\n!notes/keep.md\n")
    dockerfile = context / "Dockerfile"
    dockerfile.write_text("FROM base:1\nWORKDIR /app\nCOPY lock.txt /app/lock.txt\n"
                          "# a comment\nCOPY . /app/\nENV A=1\nENV B=$A/x \\\n    A=2 C=${A}\n"
                          "ENV PYTHONPATH=/app:/opt/other\nRUN echo built\n")
    layout = image.build_layout(str(dockerfile), str(context), str(tmp_path / "root"))
    root = tmp_path / "root" / "app"
    assert (root / "pkg" / "__init__.py").is_file() and (root / "lock.txt").is_file()
    assert not (root / "pkg" / "__pycache__").exists()
    assert (root / "notes" / "keep.md").is_file() and not (root / "notes" / "drop.md").exists()
    # Docker: a variable set in an ENV line is seen by the next lines, not by that one.
    assert layout.workdir == "/app" and layout.env["B"] == "1/x" and layout.env["C"] == "1"
    assert layout.host_env()["PYTHONPATH"] == f"{root}:/opt/other"  # only image paths mapped
    assert [step.args for step in layout.build_steps] == ["echo built"]
    # A Dockerfile-specific ignore file wins over the context's (BuildKit).
    (tmp_path / "Other").write_text("FROM base:1\nCOPY . /app/\n")
    (tmp_path / "Other.dockerignore").write_text("pkg\n")
    other = image.build_layout(str(tmp_path / "Other"), str(context), str(tmp_path / "root2"))
    assert not (tmp_path / "root2" / "app" / "pkg").exists()
    assert (tmp_path / "root2" / "app" / "notes" / "drop.md").is_file()
    assert other.ignore_file.endswith("Other.dockerignore")


def test_kfp_v2_refuses_the_pipeline_and_hands_inputs_tfx_cannot_parse(compiled, tmp_path):
    """--launcher kfp: the KFP API server refuses the resolvers before any task; and what its
    driver would hand a step (no instance schema on inputs) fails TFX's entrypoint parser."""
    from kfp.pipeline_spec import pipeline_spec_pb2
    from google.protobuf import json_format
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils

    from deploy.emulator import kfp, run, spec

    code, output, _ = emulate(compiled["template"], str(tmp_path), "--launcher", "kfp")
    assert code == 2  # refused before any task, as `python -m deploy.kubeflow` refuses it
    assert "The KFP API server refuses to create the job" in output
    assert ("task latest_blessed_model_resolver-model-resolver: executor(label="
            "'latest_blessed_model_resolver-model-resolver_executor'): non-container and "
            "non-importer executor not implemented") in output and "START" not in output
    job = spec.load(compiled["template"])
    assert kfp.driver_problems(job, "Trainer")  # constantValue parameters
    upstream = {"name": "projects/1/locations/r/metadataStores/default/artifacts/7",
                "uri": "gs://b/examples", "metadata": {"span": 1.0}, "schema": "x"}
    handed = kfp.kfp_executor_input({}, {"examples": [upstream]}, {}, "/tmp/out.json")
    executor_input = json_format.ParseDict(handed, pipeline_spec_pb2.ExecutorInput())
    with pytest.raises(AttributeError):
        kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(executor_input.inputs.artifacts)
    # Even a parameter KFP's driver accepts reaches the step only as parameterValues, which
    # TFX's entrypoint reads only with an inputs spec (this IR has none): no exec properties.
    handed = kfp.kfp_executor_input({"schema_file": "/pipeline/schema/schema.pbtxt"}, {}, {},
                                    "/tmp/out.json")
    executor_input = json_format.ParseDict(handed, pipeline_spec_pb2.ExecutorInput())
    assert kubeflow_v2_entrypoint_utils.parse_execution_properties(
        executor_input.inputs.parameter_values, executor_input.inputs.parameters) == {}
    vertex = run.invocation.vertex_executor_input({}, {"examples": [dict(
        upstream, schema="title: tfx.Examples\ntype: object\n")]}, {}, "/tmp/out.json")
    parsed = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(json_format.ParseDict(
        vertex, pipeline_spec_pb2.ExecutorInput()).inputs.artifacts)
    assert type(parsed["examples"][0]).__name__ == "Examples"


def test_a_local_directory_stands_for_cloud_storage(tmp_path):
    from deploy.local_gcs import LocalGcs

    gcs = LocalGcs(str(tmp_path))
    assert gcs.local_path("gs://b/a/x.json") == str(tmp_path / "b" / "a" / "x.json")
    value = {"uri": "gs://b/m", "spec": '{"dir": "gs://b/serving/pet_unet"}',
             "named": "train@gs://b/root/w.whl", "other": "/pipeline/schema", "n": 1}
    local = gcs.to_local(value)
    assert local["named"] == f"train@{tmp_path}/b/root/w.whl"
    assert json.loads(local["spec"])["dir"] == f"{tmp_path}/b/serving/pet_unet"
    assert local["other"] == "/pipeline/schema" and gcs.to_gcs(local) == value
    for bad in ("gs://", "gs:///x", "gs://b/../x", "/b/x"):
        with pytest.raises(ValueError):
            gcs.local_path(bad)
