"""components/model_registry.py against the emulator's Model Registry service (no network).

The aiplatform classes the project calls are the stand-ins of deploy/emulator/standin.py, which
bind every call to the real aiplatform 1.165 method's signature, talking to the service the
emulator runs (deploy/emulator/registry.py) on a socket, as inside an emulated step. What is
checked: versions of one model, aliases vN / blessed / default, labels within Google Cloud's
rules, idempotent reruns (a retried step uploads nothing twice), `rollback` moving the aliases,
the endpoint, the service refusing what Vertex refuses, and the runner's flags.
tests/test_vertex_emulation.py checks the same inside two emulated pipeline runs.
"""

import json
import os
import shutil
import tempfile

import pytest

from components import model_registry, model_versions
from serving.manifest import read_manifest
from serving.push import push_model
from serving.versions import existing_versions

PROJECT, REGION = "my-project", "us-central1"
NUMBER = "123456789012"
IMAGE = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
PARENT = f"projects/{NUMBER}/locations/{REGION}/models/pet-unet"
SETTINGS = {"project": PROJECT, "region": REGION, "model_id": "pet-unet",
            "display_name": "pet-unet", "serving_image": IMAGE, "endpoint": None,
            "endpoint_machine_type": "n1-standard-2", "pipeline_name": "pet-segmentation"}


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """The emulator's registry service on a socket, the stand-ins as aiplatform's classes."""
    from google.cloud import aiplatform

    from deploy import local_gcs
    from deploy.emulator import processes, registry as service_module, standin
    from deploy.emulator.service import JsonSocketService

    sockets = tempfile.mkdtemp(prefix="registry-")  # a short path: AF_UNIX allows 108 bytes
    said = []
    # These tests push to local directories under tmp/gcs, which this fixture (not the service)
    # presents as gs:// URIs; the emulated runs (test_vertex_emulation.py) push to a bucket.
    gcs = local_gcs.LocalGcs(str(tmp_path / "gcs"))
    service = service_module.ModelRegistryService(
        None, str(tmp_path / "state" / "model_registry.json"), NUMBER, said.append,
        object_exists=lambda uri: os.path.exists(gcs.local_path(uri)))
    server = JsonSocketService(os.path.join(sockets, "models"),
                               lambda request: gcs.to_local(service.handle(gcs.to_gcs(request))))
    monkeypatch.setenv(processes.MODEL_SERVICE_ENV, os.path.join(sockets, "models"))
    monkeypatch.setenv(processes.TASK_ENV, "VersionedPusher")
    for name, cls in standin.MODEL_CLASSES.items():
        monkeypatch.setattr(aiplatform, name, cls)
    service.said = said
    try:
        yield service
    finally:
        server.close()
        shutil.rmtree(sockets, ignore_errors=True)


@pytest.fixture
def model_dir(tmp_path):
    return str(tmp_path / "gcs" / "my-bucket" / "serving" / "pet_unet")


def saved_model(tmp_path, name):
    path = tmp_path / "trainer" / name
    (path / "variables").mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(name.encode())
    return str(path)


def push(tmp_path, model_dir, name, accuracy, span, settings=SETTINGS, baseline=None):
    """A pushed version whose manifest holds what VersionedPusher's does."""
    manifest = {"architecture": "unet_mobilenet_v2", "pipeline_run": f"job-{name}",
                "blessing": {"blessed": True, "metrics": {
                    "pixel_accuracy": accuracy, "mean_iou": accuracy / 2, "example_count": 12.0,
                    "border_iou": 0.0}, "baseline": baseline},
                "data": {"span": span}}
    if settings:
        manifest[model_registry.MANIFEST_KEY] = settings
    return push_model(saved_model(tmp_path, name), model_dir, manifest)[0]


def versions(registry_service):
    return registry_service.state["models"][PARENT]["versions"]


def aliases(registry_service):
    return {entry["version_id"]: sorted(entry["version_aliases"])
            for entry in versions(registry_service)}


# ---- labels, images, names ----

def test_labels_follow_google_cloud_rules_whatever_the_manifest_holds():
    from deploy import vertex_rules

    manifest = {"version": 12, "pushed_at": "2026-11-22T00:59:32+00:00",
                "pipeline_run": "Pet-Segmentation-" + "x" * 80 + ".Run/1",
                "architecture": "UNet Xception", "rolled_back_from": 3,
                "blessing": {"metrics": {"pixel_accuracy": 0.912345, "mean_iou": float("nan"),
                                         "Border IoU": 1.0, "1st/metric": -0.25,
                                         "example_count": 12.0},
                             "baseline": {"version": 11}},
                "data": {"span": 7}}
    labels = model_registry.labels_for(manifest, {"pipeline_name": "Pet Segmentation"})
    assert vertex_rules.label_problems(labels) == []
    assert labels["serving_version"] == "12" and labels["pushed_at"] == "20261122t005932z"
    assert labels["pixel_accuracy"] == "0_9123" and labels["mean_iou"] == "nan"
    assert labels["border_iou"] == "1_0000" and labels["m_1st_metric"] == "-0_2500"
    assert labels["data_span"] == "7" and labels["baseline_version"] == "11"
    assert labels["rolled_back_from"] == "3" and labels["architecture"] == "unet_xception"
    assert labels["pipeline"] == "pet_segmentation" and "example_count" not in labels
    run = labels["pipeline_run"]  # too long: 54 characters and a hash, still unique
    assert len(run) == 63 and run.startswith("pet-segmentation-xxx") and run[54] == "-"
    assert run != model_registry.label_value("Pet-Segmentation-" + "x" * 80 + ".Run/2")
    many = {f"metric_{i}": 0.5 for i in range(100)}
    crowded = model_registry.labels_for(dict(manifest, blessing={"metrics": many}), {})
    assert len(crowded) == 64 and vertex_rules.label_problems(crowded) == []


@pytest.mark.parametrize("labels, problem", [
    ({"Pixel": "1"}, "must start with a lowercase letter"),
    ({"pixel_accuracy": "0.91"}, "only lowercase letters"),
    ({"a": "x" * 64}, "at most 63"),
    ({"k" * 64: "x"}, "1 to 63 characters"),
    ({"aiplatform.googleapis/x": "1"}, "reserved"),
    ({f"k{i}": "" for i in range(65)}, "at most 64"),
    ({"1key": "x"}, "must start with a lowercase letter"),
])
def test_the_label_rules_refuse(labels, problem):
    from deploy import vertex_rules

    assert any(problem in found for found in vertex_rules.label_problems(labels))
    assert vertex_rules.label_problems({"ünïcode_ключ": "значение-1_a"}) == []


def test_the_prebuilt_tf_images_are_the_ones_aiplatform_lists():
    from google.cloud.aiplatform.constants import prediction

    listed = set(prediction.SERVING_CONTAINER_URIS)
    ours = {model_registry.prebuilt_tf_image(region, f"{major}.{minor}.0", gpu)[0]
            for major, minor in model_registry.PREBUILT_TF_VERSIONS
            for region in ("us-central1", "europe-west4", "asia-east1") for gpu in (False, True)}
    assert ours <= listed
    # A newer one in aiplatform's list (after an upgrade of the lock) must be added here.
    tf2 = {uri for uri in listed if "/prediction/tf2-cpu." in uri}
    assert tf2 <= ours
    uri, note = model_registry.prebuilt_tf_image("us-central1", "2.16.2")
    assert uri == IMAGE and "no prebuilt serving container for TensorFlow 2.16" in note
    assert model_registry.prebuilt_tf_image("europe-west4", "2.15.1") == (
        "europe-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest", "")
    assert model_registry.prebuilt_tf_image("me-west1", "2.12.0", gpu=True)[0] == \
        "us-docker.pkg.dev/vertex-ai/prediction/tf2-gpu.2-12:latest"


def test_the_pipeline_run_comes_from_the_vertex_task_directory():
    tmp = "/gcs/b/root/123456789012/pet-segmentation-20260101/VersionedPusher_42/.temp/x/"
    assert model_registry.vertex_pipeline_job(tmp) == "pet-segmentation-20260101"
    assert model_registry.vertex_pipeline_job("/root/VersionedPusher/.system/5/.temp/") is None
    assert model_registry.pipeline_run(None) is None

    class Context:
        pipeline_run_id = None

        def get_tmp_path(self):
            return tmp

    assert model_registry.pipeline_run(Context()) == "pet-segmentation-20260101"
    Context.pipeline_run_id = "local-run"
    assert model_registry.pipeline_run(Context()) == "local-run"


# ---- the stand-ins' signatures ----

def test_the_stand_ins_bind_every_call_to_the_real_aiplatform_signature(registry):
    import inspect

    from google.cloud.aiplatform import models as real

    from deploy.emulator import standin

    used = {"Model": ["__init__", "upload"],
            "ModelRegistry": ["__init__", "get_model", "list_versions", "add_version_aliases",
                              "remove_version_aliases"],
            "Endpoint": ["__init__", "create", "list", "deploy", "undeploy", "update",
                         "list_models"]}
    for class_name, methods in used.items():
        for method in methods:
            ours = inspect.getattr_static(standin.MODEL_CLASSES[class_name], method)
            theirs = inspect.getattr_static(getattr(real, class_name), method)
            assert type(ours) is type(theirs), (class_name, method)  # classmethod or not
    with pytest.raises(TypeError, match="unexpected keyword argument 'model_name'"):
        standin.Model.upload(model_name="pet-unet", project=PROJECT, location=REGION)
    with pytest.raises(TypeError, match="new_alias"):
        standin.ModelRegistry("pet-unet", project=PROJECT, location=REGION).add_version_aliases(
            new_alias=["x"], version="1")
    with pytest.raises(NotImplementedError, match="serving_container_ports"):
        standin.Model.upload(serving_container_image_uri=IMAGE, artifact_uri="gs://b/m",
                             serving_container_ports=[8080], project=PROJECT, location=REGION)
    with pytest.raises(ValueError, match="need project and location"):
        standin.Model("pet-unet")


# ---- registering ----

def test_pushes_become_versions_of_one_model_and_a_rerun_uploads_nothing(tmp_path, model_dir,
                                                                          registry):
    first = push(tmp_path, model_dir, "first", 0.8, span=1)
    result = model_registry.register_version(model_dir, first, SETTINGS, out=lambda _: None)
    assert result == {"model": PARENT, "version_id": "1", "uploaded": True, "endpoint": None,
                      "aliases": ["blessed", "default", "v1"]}
    second = push(tmp_path, model_dir, "second", 0.9, span=2, baseline={"version": 1})
    lines = []
    result = model_registry.register_version(model_dir, second, SETTINGS, out=lines.append)
    assert result["version_id"] == "2" and result["uploaded"]
    assert aliases(registry) == {"1": ["v1"], "2": ["blessed", "default", "v2"]}
    assert f"serving version 2 uploaded as {PARENT} version 2" in lines[0]
    entry = versions(registry)[1]
    assert entry["artifact_uri"] == "gs://my-bucket/serving/pet_unet/2"  # as Vertex holds it
    assert entry["container_spec"] == {"image_uri": IMAGE}
    manifest = read_manifest(model_dir, 2)
    assert entry["labels"] == {
        "pipeline": "pet-segmentation", "pipeline_run": "job-second", "serving_version": "2",
        "pushed_at": model_registry.pushed_at_label(manifest["pushed_at"]), "data_span": "2",
        "baseline_version": "1", "architecture": "unet_mobilenet_v2",
        "pixel_accuracy": "0_9000", "mean_iou": "0_4500", "border_iou": "0_0000"}
    assert "pixel_accuracy 0.900000" in entry["version_description"]
    assert "beat version 1" in entry["version_description"]
    # The step ran twice (Vertex retried it, or the pipeline was rerun): nothing new.
    again = model_registry.register_version(model_dir, second, SETTINGS, out=lambda _: None)
    assert again["version_id"] == "2" and not again["uploaded"]
    assert len(versions(registry)) == 2


def test_a_rerun_after_a_partial_registration_completes_it(tmp_path, model_dir, registry):
    """This push's registry version without its aliases (taken off by hand, or uploaded
    without them): found by its labels, the aliases come back, nothing is uploaded."""
    from google.cloud import aiplatform

    model_registry.register_version(model_dir, push(tmp_path, model_dir, "a", 0.8, 1), SETTINGS,
                                    out=lambda _: None)
    version = push(tmp_path, model_dir, "b", 0.9, 2)
    manifest = read_manifest(model_dir, version)
    aiplatform.Model.upload(  # what a step killed after its upload had done
        serving_container_image_uri=IMAGE, artifact_uri=os.path.join(model_dir, "2"),
        parent_model="pet-unet", is_default_version=False, version_aliases=[],
        display_name="pet-unet", labels=model_registry.labels_for(manifest, SETTINGS),
        project=PROJECT, location=REGION)
    assert aliases(registry) == {"1": ["blessed", "default", "v1"], "2": []}
    result = model_registry.register_version(model_dir, version, SETTINGS, out=lambda _: None)
    assert not result["uploaded"] and result["version_id"] == "2"
    assert aliases(registry) == {"1": ["v1"], "2": ["blessed", "default", "v2"]}


def test_the_pusher_step_twice_registers_its_version_once(tmp_path, registry):
    """VersionedPusher's executor with registry settings, run twice on the same model (the
    retry Vertex makes of a step that failed after pushing): one version, its properties."""
    from tests.test_versioned_pusher import _model, _push

    first = _model(tmp_path, "first")
    first.id = 1
    settings = dict(SETTINGS)
    model_dir = str(tmp_path / "gcs" / "my-bucket" / "serving" / "pet_unet")
    pushed = _push(tmp_path, first, blessed=True, vertex_model=settings, model_dir=model_dir)
    assert pushed.get_string_custom_property("vertex_model") == PARENT
    assert pushed.get_string_custom_property("vertex_model_version") == "1"
    _push(tmp_path, first, blessed=True, vertex_model=settings, model_dir=model_dir)
    assert len(versions(registry)) == 1
    manifest = read_manifest(model_dir, 1)
    assert manifest[model_registry.MANIFEST_KEY] == settings  # what rollback will use


def test_rollback_moves_the_aliases_and_a_later_push_takes_them(tmp_path, model_dir, registry,
                                                                 capsys):
    for name, accuracy in (("a", 0.8), ("b", 0.9)):
        model_registry.register_version(
            model_dir, push(tmp_path, model_dir, name, accuracy, 1), out=lambda _: None)
    assert model_versions.main(["rollback", model_dir, "1"]) == 0
    assert "version 1 is now also version 3" in capsys.readouterr().out
    assert len(versions(registry)) == 2  # nothing uploaded: version 1's registry version
    assert aliases(registry) == {"1": ["blessed", "default", "v1", "v3"], "2": ["v2"]}
    later = push(tmp_path, model_dir, "c", 0.95, 2)
    model_registry.register_version(model_dir, later, out=lambda _: None)
    assert aliases(registry) == {"1": ["v1", "v3"], "2": ["v2"],
                                 "3": ["blessed", "default", "v4"]}


def test_rollback_to_a_version_pushed_before_registration_uploads_its_copy(tmp_path, model_dir,
                                                                          registry):
    push(tmp_path, model_dir, "old", 0.8, 1, settings=None)  # before --vertex-model
    model_registry.register_version(model_dir, push(tmp_path, model_dir, "new", 0.7, 2),
                                    out=lambda _: None)
    assert model_versions.main(["rollback", model_dir, "1"]) == 0
    assert aliases(registry) == {"1": ["v2"], "2": ["blessed", "default", "v3"]}
    assert versions(registry)[1]["labels"]["rolled_back_from"] == "1"
    assert versions(registry)[1]["artifact_uri"].endswith("/pet_unet/3")
    # Run again (the finishing command rollback's error names): nothing more is uploaded.
    assert model_registry.main([model_dir, "3"]) == 0
    assert len(versions(registry)) == 2


def test_without_credentials_rollback_serves_the_copy_and_says_how_to_finish(
        tmp_path, model_dir, monkeypatch, capsys):
    """The real aiplatform SDK, with Application Default Credentials missing."""
    import google.auth
    from google.auth import exceptions

    push(tmp_path, model_dir, "a", 0.8, 1)
    push(tmp_path, model_dir, "b", 0.9, 1)

    def no_credentials(*args, **kwargs):
        raise exceptions.DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", no_credentials)
    assert model_versions.main(["rollback", model_dir, "1"]) == 1
    error = capsys.readouterr().err
    assert "the serving directory serves the rolled-back model, but the Model Registry was not" \
           " updated" in error and "DefaultCredentialsError" in error
    assert f"python -m components.model_registry {model_dir} 3" in error
    assert existing_versions(model_dir) == [1, 2, 3]


def test_each_new_version_is_deployed_with_all_the_traffic(tmp_path, model_dir, registry):
    settings = dict(SETTINGS, endpoint="pet-segmentation")
    lines = []
    first = model_registry.register_version(
        model_dir, push(tmp_path, model_dir, "a", 0.8, 1, settings=settings), out=lines.append)
    assert "creating endpoint 'pet-segmentation'" in "\n".join(lines)
    [name] = registry.state["endpoints"]
    assert first["endpoint"]["endpoint"] == name
    second = model_registry.register_version(
        model_dir, push(tmp_path, model_dir, "b", 0.9, 2, settings=settings), out=lines.append)
    endpoint = registry.state["endpoints"][name]
    [deployed] = endpoint["deployed_models"]
    assert (deployed["model"], deployed["model_version_id"]) == (PARENT, "2")
    assert deployed["machine_type"] == "n1-standard-2"
    assert endpoint["traffic_split"] == {deployed["id"]: 100}
    assert [model["model_version_id"] for model in endpoint["undeployed_models"]] == ["1"]
    assert second["endpoint"]["traffic_split"] == {deployed["id"]: 100}
    model_registry.register_version(model_dir, 2, settings, out=lines.append)  # a rerun
    assert list(registry.state["endpoints"]) == [name]
    assert [model["id"] for model in registry.state["endpoints"][name]["deployed_models"]] == \
        [deployed["id"]]  # not deployed again


# ---- what the service refuses ----

def _upload(**changes):
    from google.cloud import aiplatform

    arguments = dict(serving_container_image_uri=IMAGE, model_id="pet-unet",
                     display_name="pet-unet", project=PROJECT, location=REGION)
    arguments.update(changes)
    return aiplatform.Model.upload(**arguments)


def test_the_registry_refuses_what_vertex_refuses(tmp_path, model_dir, registry):
    from google.api_core import exceptions
    from google.cloud import aiplatform

    version = push(tmp_path, model_dir, "a", 0.8, 1)
    artifact = os.path.join(model_dir, str(version))
    refused = [
        (dict(labels={"Pixel": "0.9"}), exceptions.InvalidArgument, "lowercase letter"),
        (dict(version_aliases=["1st"]), exceptions.InvalidArgument, "does not match"),
        (dict(version_aliases=["v1", "v1"]), exceptions.InvalidArgument, "twice"),
        (dict(version_aliases=["v1-"]), exceptions.InvalidArgument, "does not match"),
        (dict(model_id="1-model"), exceptions.InvalidArgument, "model_id"),
        (dict(parent_model="no-such-model", model_id=None), exceptions.NotFound, "not found"),
        (dict(serving_container_image_uri=IMAGE.replace("2-15", "2-16")),
         exceptions.InvalidArgument, "not one of Vertex AI's prebuilt"),
        (dict(artifact_uri=str(tmp_path / "trainer" / "a")), exceptions.InvalidArgument,
         "must be a gs:// URI"),
        (dict(artifact_uri=os.path.join(model_dir, "x")), exceptions.FailedPrecondition,
         "expected to contain exactly one of"),
    ]
    for changes, error, message in refused:
        with pytest.raises(error, match=message):
            _upload(**{"artifact_uri": artifact, **changes})
    assert PARENT not in registry.state["models"]  # nothing half-made
    model = _upload(artifact_uri=artifact, version_aliases=["v1"])
    assert sorted(model.version_aliases) == ["default", "v1"]
    with pytest.raises(exceptions.AlreadyExists):
        _upload(artifact_uri=artifact)
    second = _upload(artifact_uri=artifact, model_id=None, parent_model="pet-unet",
                     version_aliases=["v1", "candidate"], is_default_version=False)
    assert aliases(registry) == {"1": ["default"], "2": ["candidate", "v1"]}  # v1 moved
    models = aiplatform.ModelRegistry("pet-unet", project=PROJECT, location=REGION)
    with pytest.raises(exceptions.FailedPrecondition, match="default alias cannot be removed"):
        models.remove_version_aliases(target_aliases=["default"], version="1")
    with pytest.raises(exceptions.InvalidArgument, match="by its ID"):
        models.add_version_aliases(new_aliases=["x1"], version="candidate")
    models.add_version_aliases(new_aliases=["default"], version=second.version_id)
    assert aliases(registry) == {"1": [], "2": ["candidate", "default", "v1"]}
    assert [info.version_id for info in models.list_versions()] == ["1", "2"]
    assert models.get_model(version="candidate").version_id == "2"
    assert aiplatform.Model("pet-unet", project=PROJECT, location=REGION).version_id == "2"


def test_the_endpoint_refuses_what_vertex_refuses(tmp_path, model_dir, registry):
    from google.api_core import exceptions
    from google.cloud import aiplatform

    model = _upload(artifact_uri=os.path.join(model_dir, str(push(tmp_path, model_dir, "a", .8,
                                                                    1))))
    endpoint = aiplatform.Endpoint.create(display_name="e", project=PROJECT, location=REGION)
    with pytest.raises(exceptions.InvalidArgument, match="cannot be attached to N1"):
        endpoint.deploy(model=model, machine_type="n1-standard-2", accelerator_type="NVIDIA_L4",
                        accelerator_count=1)
    with pytest.raises(exceptions.InvalidArgument, match="add up to 100"):
        endpoint.deploy(model=model, machine_type="n1-standard-2", traffic_split={"0": 50})
    endpoint.deploy(model=model, machine_type="n1-standard-2")  # the first: 100% whatever asked
    endpoint.deploy(model=model, machine_type="n1-standard-2", traffic_percentage=30)
    [old, new] = endpoint.list_models()
    assert endpoint.traffic_split == {old.id: 70, new.id: 30}  # the SDK's own allocation
    with pytest.raises(exceptions.FailedPrecondition, match="still has 70% of the traffic"):
        endpoint.undeploy(deployed_model_id=old.id)
    endpoint.update(traffic_split={new.id: 100})
    endpoint.undeploy(deployed_model_id=old.id)
    assert [m.id for m in endpoint.list_models()] == [new.id]
    with pytest.raises(exceptions.InvalidArgument, match="only display_name"):
        aiplatform.Endpoint.list(filter="labels.a=b", project=PROJECT, location=REGION)


# ---- the runner's flags ----

BASE = ["--project", PROJECT, "--region", REGION, "--image",
        "us-docker.pkg.dev/my-project/petseg/pipeline:1", "--pipeline-root", "gs://b/root",
        "--data-dir", "gs://b/data", "--serving-dir", "gs://b/serving"]


def test_the_runner_flags_build_the_registry_settings(capsys):
    import kubeflow_v2_runner

    parser = kubeflow_v2_runner.build_parser()
    config = kubeflow_v2_runner.config_from_args(parser.parse_args(
        BASE + ["--vertex-model", "pet-unet", "--vertex-endpoint", "pets"]))
    settings = config.cloud.registry_settings(config.pipeline_name)
    assert settings == dict(SETTINGS, endpoint="pets")  # TF 2.16 here: the 2.15 image
    assert json.dumps(settings)  # plain values, for custom_config
    assert config.cloud.registry_settings is not None and "token" not in json.dumps(settings)
    custom = kubeflow_v2_runner.config_from_args(parser.parse_args(
        BASE + ["--vertex-model", "pet-unet", "--vertex-serving-image", "eu.gcr.io/p/tfs:2.16"]))
    assert custom.cloud.registry_settings("p")["serving_image"] == "eu.gcr.io/p/tfs:2.16"
    for extra, message in ((["--vertex-endpoint", "pets"], "need --vertex-model"),
                           (["--vertex-model", "Pet Unet"], "must be a Vertex AI model ID")):
        assert kubeflow_v2_runner.main(BASE + extra + ["--output", "/nonexistent/x.json"]) == 2
        assert message in capsys.readouterr().err


def test_a_fresh_step_interpreter_gets_the_stand_ins_and_keeps_the_real_classes(tmp_path):
    """What a cold-started step gets from its sitecustomize: aiplatform's three names replaced
    once imported, google.cloud.aiplatform.models untouched (the stand-ins bind to it)."""
    import subprocess
    import sys

    from deploy.emulator import processes

    bootstrap = processes.write_bootstrap(str(tmp_path / "bootstrap"))
    probe = ("from google.cloud import aiplatform\n"
             "from google.cloud.aiplatform import models\n"
             "import vertex_emulator_standin as standin\n"
             "print(aiplatform.Model is standin.Model, aiplatform.Endpoint is standin.Endpoint,\n"
             "      aiplatform.ModelRegistry is standin.ModelRegistry,\n"
             "      models.Model is not standin.Model)\n")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": bootstrap, "HOME": str(tmp_path),
           processes.SERVICE_ENV: "/nonexistent", processes.MODEL_SERVICE_ENV: "/nonexistent"}
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", probe], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.stdout.split() == ["True"] * 4, result.stderr[-2000:]
