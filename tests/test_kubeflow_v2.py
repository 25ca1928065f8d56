"""The same pipeline compiled for Kubeflow V2 / Vertex AI, offline.

One compile (KubeflowV2DagRunner, through kubeflow_v2_runner.main) is shared by the tests that
read the JSON; compiling writes that one file and needs no credentials (no user-module wheel is
uploaded: Transform and Trainer load the model code from the pipeline image by name).
tests/test_vertex_emulation.py runs such a compile the way Vertex AI would.
"""

import json
import os
import subprocess
import sys

import pytest

from pipeline import node_ids

PROJECT, REGION = "my-project", "us-central1"
IMAGE = "us-docker.pkg.dev/my-project/petseg/pipeline:1"
ROOT = "gs://my-bucket/petseg/root"
COMPONENTS = {"OxfordPetExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator",
              "AnomaliesGate", "Transform", "Trainer", "Evaluator", "VersionedPusher"}
# Two NVIDIA L4 come on a g2-standard-24 (L4s attach to G2 machine types only).
ARGS = ["--project", PROJECT, "--region", REGION, "--image", IMAGE, "--pipeline-root", ROOT,
        "--data-dir", "gs://my-bucket/petseg/data", "--serving-dir", "gs://my-bucket/serving",
        "--span-pattern", "span-{SPAN}", "--warm-start",
        "--dataflow-temp-location", "gs://my-bucket/tmp", "--dataflow-machine-type",
        "n1-highmem-4", "--dataflow-max-workers", "8",
        "--vertex-training", "--training-machine-type", "g2-standard-24",
        "--accelerator-type", "NVIDIA_L4", "--accelerator-count", "2"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    import kubeflow_v2_runner

    work = tmp_path_factory.mktemp("kfp")
    output = str(work / "pipeline.json")
    assert kubeflow_v2_runner.main(ARGS + ["--output", output]) == 0
    with open(output) as handle:
        return json.load(handle)


def _parameter(task, name):
    value = task["inputs"]["parameters"][name]["runtimeValue"]["constantValue"]
    return value.get("stringValue", value)


def test_every_component_is_a_task(compiled):
    job = compiled
    tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
    assert COMPONENTS <= set(tasks)
    assert any(name.startswith("latest_blessed_model_resolver") for name in tasks)
    assert job["runtimeConfig"]["gcsOutputDirectory"] == ROOT
    assert job["pipelineSpec"]["pipelineInfo"]["name"] == "pet-segmentation"


def test_every_step_runs_in_the_pipeline_image_with_dataflow_args(compiled):
    job = compiled
    executors = job["pipelineSpec"]["deploymentSpec"]["executors"]
    for name in COMPONENTS:
        container = executors[f"{name}_executor"]["container"]
        assert container["image"] == IMAGE, name
        args = container["args"]
        for expected in ("--runner=DataflowRunner", f"--project={PROJECT}",
                         f"--region={REGION}", "--temp_location=gs://my-bucket/tmp",
                         "--machine_type=n1-highmem-4", "--max_num_workers=8",
                         f"--sdk_container_image={IMAGE}"):
            assert expected in args, (name, expected)
        assert not any(arg.startswith("--direct_") for arg in args), name


def test_trainer_runs_on_vertex_with_the_gpu_machine_spec(compiled):
    job = compiled
    spec = job["pipelineSpec"]
    executor = spec["deploymentSpec"]["executors"]["Trainer_executor"]["container"]
    assert ("tfx.extensions.google_cloud_ai_platform.trainer.executor.GenericExecutor"
            in executor["args"])
    custom = json.loads(_parameter(spec["root"]["dag"]["tasks"]["Trainer"], "custom_config"))
    assert custom["ai_platform_enable_vertex"] is True
    assert custom["ai_platform_vertex_region"] == REGION
    training = custom["ai_platform_training_args"]
    assert training["project"] == PROJECT
    [pool] = training["worker_pool_specs"]
    assert pool["machine_spec"] == {"machine_type": "g2-standard-24",
                                    "accelerator_type": "NVIDIA_L4", "accelerator_count": 2}
    assert pool["container_spec"] == {"image_uri": IMAGE}
    # The pipeline's own Trainer settings travel beside the Vertex keys, run_fn ignores those.
    assert custom["warm_start_epochs"] == 2 and custom["image_size"] == 128
    from trainer.settings import TrainerSettings

    assert TrainerSettings.from_custom_config(custom).warm_start_epochs == 2


def test_warm_start_and_spans_are_wired(compiled):
    tasks = compiled["pipelineSpec"]["root"]["dag"]["tasks"]
    base_model = tasks["Trainer"]["inputs"]["artifacts"]["base_model"]["taskOutputArtifact"]
    assert base_model["producerTask"] == f"{node_ids.WARM_START_MODEL}-model-resolver"
    baseline = tasks["Evaluator"]["inputs"]["artifacts"]["baseline_model"]["taskOutputArtifact"]
    assert baseline["producerTask"] == f"{node_ids.LATEST_BLESSED_MODEL}-model-resolver"
    input_config = json.loads(_parameter(tasks["OxfordPetExampleGen"], "input_config"))
    assert {split["pattern"] for split in input_config["splits"]} == {
        "span-{SPAN}/annotations/trainval.txt", "span-{SPAN}/annotations/test.txt"}
    # Files named by path are read inside the pipeline image (Dockerfile WORKDIR).
    assert _parameter(tasks["ImportSchemaGen"], "schema_file") == "/pipeline/schema/schema.pbtxt"

def test_the_model_code_is_named_not_packaged_and_its_hash_keys_the_cache(compiled):
    """Transform and Trainer load the model code from the image by name: no module file, no
    wheel; the hash of trainer/ rides in both custom_configs (a new image with other code runs
    them again, as a new wheel did)."""
    from trainer.code_version import CODE_VERSION_KEY, code_version

    tasks = compiled["pipelineSpec"]["root"]["dag"]["tasks"]
    assert _parameter(tasks["Transform"], "preprocessing_fn") == (
        "trainer.preprocessing.preprocessing_fn")
    assert _parameter(tasks["Trainer"], "run_fn") == "trainer.train.run_fn"
    for name in ("Transform", "Trainer"):
        parameters = tasks[name]["inputs"]["parameters"]
        assert "module_file" not in parameters and "module_path" not in parameters, name
        custom = json.loads(_parameter(tasks[name], "custom_config"))
        assert custom[CODE_VERSION_KEY] == code_version(), name
    assert "_wheels" not in json.dumps(compiled)


def test_without_dataflow_the_beam_steps_run_the_direct_runner_on_one_worker(tmp_path):
    """Compiled without --dataflow-temp-location, a Beam step runs the DirectRunner in its own
    container with no Beam arguments: its default, one worker (more can lose records:
    pipeline/beam_args.py; this fallback asked for every core before)."""
    import kubeflow_v2_runner

    start = ARGS.index("--dataflow-temp-location")
    args = ARGS[:start] + ARGS[start + 6:]  # the three Dataflow flags and their values
    assert not any(arg.startswith("--dataflow") for arg in args)
    output = str(tmp_path / "pipeline.json")
    assert kubeflow_v2_runner.main(args + ["--output", output]) == 0
    with open(output) as handle:
        executors = json.load(handle)["pipelineSpec"]["deploymentSpec"]["executors"]
    for name in ("OxfordPetExampleGen", "StatisticsGen", "Transform", "Evaluator"):
        args = executors[f"{name}_executor"]["container"]["args"]
        assert not [arg for arg in args if arg.startswith(("--runner", "--direct_"))], name


def test_no_credentials_in_the_compiled_pipeline(compiled):
    job = compiled
    text = json.dumps(job).lower()
    for word in ("token", "password", "private_key", "secret"):
        assert word not in text


def test_cloud_settings_are_validated():
    from pipeline.cloud import CloudConfig, DataflowConfig, VertexTrainingConfig
    from pipeline.config import PipelineConfig

    def config(**cloud):
        values = dict(project=PROJECT, region=REGION, image=IMAGE)
        values.update(cloud)
        return PipelineConfig(data_dir="gs://b/data", pipeline_root="gs://b/root",
                              serving_dir="gs://b/serving", cloud=CloudConfig(**values))

    config()  # valid
    with pytest.raises(ValueError, match="cloud.region"):
        config(region="central")
    with pytest.raises(ValueError, match="cloud.image"):
        config(image="not an image")
    with pytest.raises(ValueError, match="dataflow.temp_location must be a gs://"):
        config(dataflow=DataflowConfig(temp_location="/tmp"))
    with pytest.raises(ValueError, match="accelerator_count"):
        config(vertex_training=VertexTrainingConfig(accelerator_count=0))
    with pytest.raises(ValueError, match="pipeline_root must be a gs://"):
        PipelineConfig(data_dir="gs://b/data", pipeline_root="/local/root",
                       serving_dir="gs://b/serving",
                       cloud=CloudConfig(project=PROJECT, region=REGION, image=IMAGE))
    with pytest.raises(ValueError, match="credentials"):
        PipelineConfig(data_dir="gs://b/data", pipeline_root="gs://b/root",
                       serving_dir="gs://b/serving", beam_args=["--access_token=abc"],
                       cloud=CloudConfig(project=PROJECT, region=REGION, image=IMAGE))


def test_runner_help_and_bad_flags():
    import kubeflow_v2_runner

    help_text = kubeflow_v2_runner.build_parser().format_help()
    for flag in ("--image", "--pipeline-root", "--dataflow-temp-location", "--accelerator-type",
                 "--warm-start-epochs", "--span-pattern"):
        assert flag in help_text
    bad = list(ARGS)
    bad[bad.index("--pipeline-root") + 1] = "/local/root"
    assert kubeflow_v2_runner.main(bad + ["--output", "/nonexistent/x.json"]) == 2


def test_a_local_pipeline_does_not_import_the_cloud_clients(tmp_path):
    """create_pipeline for a local config leaves Vertex/aiplatform modules unloaded."""
    code = (
        "import sys\n"
        "from pipeline.config import PipelineConfig\n"
        "from pipeline.pipeline import create_pipeline\n"
        "from trainer.settings import TrainerSettings\n"
        f"create_pipeline(PipelineConfig(data_dir={str(tmp_path)!r}, "
        f"pipeline_root={str(tmp_path / 'root')!r}, serving_dir={str(tmp_path / 's')!r}, "
        "trainer=TrainerSettings(warm_start=True), span_pattern='span-{SPAN}'))\n"
        "loaded = [m for m in sys.modules if m.startswith(('google.cloud.aiplatform', "
        "'tfx.extensions.google_cloud_ai_platform', 'kfp'))]\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": repo})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_a_machine_vertex_training_refuses_is_refused_when_compiling(capsys):
    """Two L4 on an n1-standard-8: Vertex AI would refuse the custom job only when the Trainer
    step starts, after every data step of the run."""
    import kubeflow_v2_runner

    bad = list(ARGS)
    bad[bad.index("--training-machine-type") + 1] = "n1-standard-8"
    assert kubeflow_v2_runner.main(bad + ["--output", "/nonexistent/x.json"]) == 2
    error = capsys.readouterr().err
    assert "Vertex AI Training refuses this machine: NVIDIA_L4 cannot be attached to N1" in error
    assert "g2-standard-24" in error


def test_the_compile_needs_no_credentials_and_writes_only_its_file(tmp_path):
    """No Application Default Credentials, HOME empty: the compile writes the JSON and its log
    and nothing else (it used to upload the user-module wheel, and stopped without credentials)."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG")}
    env.update(HOME=str(tmp_path / "home"), CLOUDSDK_CONFIG=str(tmp_path / "gcloud"))
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "kubeflow_v2_runner.py", *ARGS, "--output", str(out / "p.json")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert sorted(os.listdir(out)) == ["logs", "p.json"]
    assert [name.startswith("compile-") for name in os.listdir(out / "logs")] == [True]
    written = {os.path.relpath(os.path.join(root, name), tmp_path / "home")
               for root, _, names in os.walk(tmp_path / "home") for name in names}
    assert written <= {".keras/keras.json"}, written  # Keras' own config, written on import
    assert not (tmp_path / "gcloud").exists()
    assert f"Wrote {out / 'p.json'}" in result.stdout
