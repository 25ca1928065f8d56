"""deploy/vertex.py and deploy/kubeflow.py build the right requests (mocked clients, no network)."""

import json
import sys
import types

import pytest

ROOT = "gs://my-bucket/petseg/root"


@pytest.fixture
def template(tmp_path):
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps({"displayName": "pet-segmentation",
                                "pipelineSpec": {"pipelineInfo": {"name": "pet-segmentation"}},
                                "runtimeConfig": {"gcsOutputDirectory": ROOT}}))
    return str(path)


class FakePipelineJob:
    """Records what aiplatform.PipelineJob is built and called with."""
    created = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.calls = []
        self.resource_name = "projects/my-project/locations/us-central1/pipelineJobs/x"
        FakePipelineJob.created.append(self)

    def submit(self, **kwargs):
        self.calls.append(("submit", kwargs))

    def wait(self):
        self.calls.append(("wait", {}))

    def create_schedule(self, **kwargs):
        self.calls.append(("create_schedule", kwargs))
        return types.SimpleNamespace(resource_name="projects/p/locations/r/schedules/1")


@pytest.fixture
def fake_aiplatform(monkeypatch):
    FakePipelineJob.created = []
    module = types.ModuleType("google.cloud.aiplatform")
    module.PipelineJob = FakePipelineJob
    import google.cloud

    monkeypatch.setitem(sys.modules, "google.cloud.aiplatform", module)
    monkeypatch.setattr(google.cloud, "aiplatform", module, raising=False)
    return FakePipelineJob


VERTEX = ["--project", "my-project", "--region", "us-central1", "--pipeline-root", ROOT]


def test_vertex_submit_builds_the_pipeline_job(template, fake_aiplatform):
    from deploy import vertex

    assert vertex.main(["submit", "--template", template, *VERTEX, "--service-account",
                        "runner@my-project.iam.gserviceaccount.com",
                        "--parameter", "epochs=3"]) == 0
    [job] = fake_aiplatform.created
    assert job.kwargs == {
        "display_name": "pet-segmentation", "template_path": template, "pipeline_root": ROOT,
        "parameter_values": {"epochs": "3"}, "enable_caching": None,
        "project": "my-project", "location": "us-central1"}
    assert job.calls == [("submit", {
        "service_account": "runner@my-project.iam.gserviceaccount.com"})]


def test_vertex_schedule_creates_a_cron_schedule(template, fake_aiplatform, capsys):
    from deploy import vertex

    cron = "TZ=Europe/Berlin 0 3 * * 1"
    assert vertex.main(["schedule", "--template", template, *VERTEX, "--cron", cron,
                        "--no-cache"]) == 0
    [job] = fake_aiplatform.created
    assert job.kwargs["enable_caching"] is False
    assert job.calls == [("create_schedule", {
        "cron": cron, "display_name": "pet-segmentation-schedule",
        "max_concurrent_run_count": 1, "max_run_count": None, "service_account": None})]
    output = capsys.readouterr()
    assert "schedules/1" in output.out and "warning" not in output.err


def test_vertex_schedule_warns_when_runs_may_overlap(template, fake_aiplatform, capsys):
    """Overlapping runs would race for version numbers in a gs:// serving directory."""
    from deploy import vertex

    assert vertex.main(["schedule", "--template", template, *VERTEX, "--cron", "0 3 * * 1",
                        "--max-concurrent-runs", "2"]) == 0
    [job] = fake_aiplatform.created
    assert job.calls[0][1]["max_concurrent_run_count"] == 2
    assert "race for version numbers" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--cron", "0 3 * *"], "cron must have 5 fields"),
    (["--cron", "0 0 3 * * 1"], "cron must have 5 fields"),  # a KFP (seconds-first) cron
    (["--cron", "0 3 * * 1", "--parameter", "api_token=abc"], "credentials"),
])
def test_vertex_schedule_refuses_bad_input(template, fake_aiplatform, capsys, extra, message):
    from deploy import vertex

    assert vertex.main(["schedule", "--template", template, *VERTEX, *extra]) == 2
    assert message in capsys.readouterr().err
    assert fake_aiplatform.created == []


def test_vertex_refuses_a_missing_template_and_a_local_root(tmp_path, template,
                                                           fake_aiplatform, capsys):
    from deploy import vertex

    assert vertex.main(["submit", "--template", str(tmp_path / "none.json"), *VERTEX]) == 2
    assert "compile it first" in capsys.readouterr().err
    local = list(VERTEX)
    local[local.index("--pipeline-root") + 1] = "/tmp/root"
    assert vertex.main(["submit", "--template", template, *local]) == 2
    assert "gs://" in capsys.readouterr().err


class FakeKfpClient:
    instances = []

    def __init__(self, **kwargs):
        self.kwargs, self.calls = kwargs, []
        FakeKfpClient.instances.append(self)

    def create_experiment(self, name, namespace=None):
        self.calls.append(("create_experiment", {"name": name, "namespace": namespace}))
        return types.SimpleNamespace(experiment_id="exp-1")

    def create_recurring_run(self, **kwargs):
        self.calls.append(("create_recurring_run", kwargs))
        return types.SimpleNamespace(recurring_run_id="rr-1")

    def create_run_from_pipeline_package(self, *args, **kwargs):
        self.calls.append(("create_run_from_pipeline_package", (args, kwargs)))
        return types.SimpleNamespace(run_id="run-1")


@pytest.fixture
def fake_kfp(monkeypatch, tmp_path):
    import kfp

    FakeKfpClient.instances = []
    monkeypatch.setattr(kfp, "Client", FakeKfpClient)
    package = tmp_path / "pipeline.yaml"
    package.write_text("pipelineInfo:\n  name: pet-segmentation\n")
    return str(package)


KFP = ["--host", "https://kfp.example.com/pipeline", "--pipeline-root", ROOT]


def test_kfp_schedule_creates_a_recurring_run(fake_kfp, capsys):
    from deploy import kubeflow

    assert kubeflow.main(["schedule", "--package", fake_kfp, *KFP, "--cron", "0 0 3 * * 1",
                          "--parameter", "epochs=3"]) == 0
    [client] = FakeKfpClient.instances
    assert client.kwargs == {"host": "https://kfp.example.com/pipeline",
                             "namespace": "kubeflow"}
    assert client.calls == [
        ("create_experiment", {"name": "pet-segmentation", "namespace": "kubeflow"}),
        ("create_recurring_run", {
            "experiment_id": "exp-1", "job_name": "pet-segmentation-schedule",
            "cron_expression": "0 0 3 * * 1", "max_concurrency": 1, "no_catchup": True,
            "params": {"epochs": "3"}, "pipeline_package_path": fake_kfp,
            "pipeline_root": ROOT, "service_account": None})]
    assert "rr-1" in capsys.readouterr().out


def test_kfp_submit_and_bad_cron(fake_kfp, capsys):
    from deploy import kubeflow

    assert kubeflow.main(["submit", "--package", fake_kfp, *KFP]) == 0
    [client] = FakeKfpClient.instances
    [(name, (args, kwargs))] = client.calls
    assert name == "create_run_from_pipeline_package" and args == (fake_kfp,)
    assert kwargs["pipeline_root"] == ROOT and kwargs["experiment_name"] == "pet-segmentation"
    assert kubeflow.main(["schedule", "--package", fake_kfp, *KFP, "--cron", "0 3 * * 1"]) == 2
    assert "6 fields" in capsys.readouterr().err
    assert len(FakeKfpClient.instances) == 1  # no client for a refused request


def test_help_of_both_commands():
    from deploy import kubeflow, vertex

    for module in (vertex, kubeflow):
        with pytest.raises(SystemExit) as exit_info:
            module.main(["schedule", "--help"])
        assert exit_info.value.code == 0


def test_the_fakes_match_the_real_client_signatures(template, fake_aiplatform, monkeypatch):
    """Every keyword the commands pass exists on the real aiplatform / kfp methods."""
    import inspect

    import kfp

    from deploy import vertex

    vertex.main(["schedule", "--template", template, *VERTEX, "--cron", "0 3 * * 1"])
    [job] = fake_aiplatform.created
    monkeypatch.undo()  # the real aiplatform from here on
    from google.cloud.aiplatform import pipeline_jobs
    real = pipeline_jobs.PipelineJob
    assert set(job.kwargs) <= set(inspect.signature(real.__init__).parameters)
    [(_, schedule_kwargs)] = job.calls
    assert set(schedule_kwargs) <= set(inspect.signature(real.create_schedule).parameters)
    assert {"service_account"} <= set(inspect.signature(real.submit).parameters)
    recurring = inspect.signature(kfp.Client.create_recurring_run).parameters
    assert {"experiment_id", "job_name", "cron_expression", "max_concurrency", "no_catchup",
            "params", "pipeline_package_path", "pipeline_root", "service_account"} <= set(
                recurring)


def test_kfp_refuses_a_package_a_kfp_v2_cluster_cannot_run(tmp_path, fake_kfp, capsys):
    """A TFX 1.16 package with a resolver (this pipeline always has one) and legacy constant
    parameters: the KFP API server and driver would refuse it (deploy/emulator/kfp.py)."""
    import yaml

    from deploy import kubeflow

    package = tmp_path / "tfx.yaml"
    package.write_text(yaml.safe_dump({
        "pipelineInfo": {"name": "pet-segmentation"},
        "components": {"resolver": {"executorLabel": "resolver_executor"},
                       "Trainer": {"executorLabel": "Trainer_executor"}},
        "deploymentSpec": {"executors": {
            "resolver_executor": {"resolver": {"outputArtifactQueries": {}}},
            "Trainer_executor": {"container": {"image": "i", "command": ["python"]}}}},
        "root": {"dag": {"tasks": {
            "latest_blessed_model_resolver-model-resolver": {
                "componentRef": {"name": "resolver"}},
            "Trainer": {"componentRef": {"name": "Trainer"}, "inputs": {"parameters": {
                "epochs": {"runtimeValue": {"constantValue": {"intValue": "1"}}}}}}}}}}))
    assert kubeflow.main(["submit", "--package", str(package), *KFP]) == 2
    error = capsys.readouterr().err
    assert ("executor(label='resolver_executor'): non-container and non-importer executor "
            "not implemented") in error
    assert "ValueOrRuntimeParameter_ConstantValue not implemented" in error
    assert "Plain Kubeflow Pipelines" in error
    assert FakeKfpClient.instances == []  # nothing sent
