"""Shared fixtures: small generated datasets in the real layout, one small pipeline run, and
README's demo command run once; the `readme_command` marker (tests/readme.py)."""

import collections
import dataclasses
import os
import sys
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

E2E_IMAGE_SIZE = 64  # the shared pipeline run's image size (`runs`)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """12 generated images in the Oxford-IIIT Pet layout (6 train, 6 eval)."""
    from oxford_pet import demo

    data_dir = str(tmp_path_factory.mktemp("small_dataset"))
    demo.make_demo_data(data_dir, count=12, seed=3, min_size=64, max_size=120)
    return data_dir


@pytest.fixture(scope="session")
def jpeg_and_png(small_dataset):
    """The first listed image of `small_dataset`: its JPEG bytes, and the same image as PNG."""
    import io

    from PIL import Image

    from oxford_pet import layout

    entry = layout.read_list(os.path.join(small_dataset, layout.LIST_FILE))[0]
    with open(layout.image_path(small_dataset, entry.name), "rb") as handle:
        jpeg = handle.read()
    png = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(png, "PNG")
    return jpeg, png.getvalue()


@pytest.fixture(scope="session")
def tfds_prepared(tmp_path_factory):
    """12 generated images in the official layout (`data_dir`), prepared by TFDS's own builders
    as oxford_iiit_pet 4.0.0 (the installed TFDS) and 3.2.0 (TFDS 4.9.6) under one TFDS data
    directory (`tfds_dir`): tests/tfds_builds.py."""
    import types

    from oxford_pet import demo
    from tests import tfds_builds

    work = tmp_path_factory.mktemp("tfds")
    data_dir, tfds_dir = str(work / "extracted"), str(work / "tensorflow_datasets")
    demo.make_demo_data(data_dir, count=12, seed=7, min_size=64, max_size=120)
    tfds_builds.prepare_installed(tfds_dir, data_dir)
    tfds_builds.prepare_3_2_0(tfds_dir, data_dir)
    return types.SimpleNamespace(data_dir=data_dir, tfds_dir=tfds_dir)


@dataclasses.dataclass(frozen=True)
class SharedRuns:
    """The shared pipeline run (`runs`): its config and the summary of each of its three runs."""

    config: Any  # pipeline.config.PipelineConfig
    first: Any  # pipeline.run_summary.RunSummary: blessed, pushed as version 1, no baseline
    cached: Any  # the same inputs again: every component cached, nothing pushed
    strict: Any  # a gate the model cannot pass: not blessed, not pushed

    def run_fn_args(self, out_dir, custom_config: dict):
        """What TFX hands trainer.train.run_fn, on the first run's Transform output, with
        `custom_config`; the model goes to <out_dir>/serving, its run to <out_dir>/run."""
        import glob
        import types

        examples = self.first.output("Transform", "transformed_examples").uri
        return types.SimpleNamespace(
            custom_config=custom_config,
            transform_output=self.first.output("Transform", "transform_graph").uri,
            train_files=glob.glob(os.path.join(examples, "Split-train", "*")),
            eval_files=glob.glob(os.path.join(examples, "Split-eval", "*")),
            model_run_dir=os.path.join(out_dir, "run"),
            serving_model_dir=os.path.join(out_dir, "serving"), base_model=None)


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> SharedRuns:
    """Runs the pipeline on 24 generated images, reruns it (cached), and reruns it with a gate
    the model cannot pass.

    Shared by tests/test_e2e.py and tests/test_report_e2e.py (session scope: one run)."""
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from oxford_pet import demo
    from pipeline import run_summary
    from pipeline.config import PipelineConfig
    from pipeline.pipeline import create_pipeline
    from trainer.settings import TrainerSettings

    work = tmp_path_factory.mktemp("e2e")
    data_dir = str(work / "data")
    demo.make_demo_data(data_dir, count=24, seed=5, min_size=80, max_size=140)
    config = PipelineConfig(
        data_dir=data_dir, pipeline_root=str(work / "root"), serving_dir=str(work / "serving"),
        trainer=TrainerSettings(image_size=E2E_IMAGE_SIZE, epochs=2, batch_size=4,
                                encoder_weights="none"),
        min_pixel_accuracy=0.0,  # bless whatever two epochs learn; the gate is tested apart
        beam_args=["--direct_running_mode=in_memory", "--direct_num_workers=1"])
    # A stricter gate: only Evaluator and Pusher have new inputs; the model is not blessed.
    strict = dataclasses.replace(config, min_pixel_accuracy=0.9999)
    summaries = []
    for run_config in (config, config, strict):
        LocalDagRunner().run(create_pipeline(run_config))
        summaries.append(run_summary.summarize(config.metadata_path, config.pipeline_name))
    return SharedRuns(config, *summaries)


# ---- README's commands (tests/readme.py) ----

DEMO_COMMAND = "scripts/demo.sh"  # as README.md shows it
DEMO_FLAGS = ("--demo-count", "16", "--image-size", "64", "--epochs", "1", "--batch-size", "4",
              "--min-pixel-accuracy", "0")
DemoRun = collections.namedtuple("DemoRun", "returncode stdout stderr work_dir")


def pytest_configure(config):
    # pytest has read its arguments by now. TFX's Beam executors parse sys.argv with absl,
    # where pytest's `-v` is absl's verbosity (tests/test_pytest_flags.py): leave them only
    # the program's name.
    del sys.argv[1:]
    config.addinivalue_line(
        "markers", "readme_command(*commands, help_only=False, not_run=None): the test runs "
        "these README.md commands as written (tests/readme.py)")


# Session fixtures worth computing once: with pytest-xdist (`-n 2 --dist loadgroup`, README's
# test command), every test that uses one runs in the same worker, as one group.
SHARED_FIXTURE_GROUPS = ("runs", "demo_command_run", "tfds_prepared")
# Fixtures that run the whole pipeline: a test using one is an e2e test (`-m "not e2e"` leaves
# it out) wherever it is defined.
PIPELINE_FIXTURES = ("runs", "demo_command_run", "emulated")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks into the node ids
def pytest_collection_modifyitems(config, items):
    """Each test's xdist group: the shared session fixture it uses, else its module (whose
    module-scoped fixtures are then computed once). Groups that run a pipeline (e2e) are put
    first, so the longest start first and the two workers finish together."""
    for item in items:
        if any(name in item.fixturenames for name in PIPELINE_FIXTURES):
            item.add_marker(pytest.mark.e2e)
        shared = [name for name in SHARED_FIXTURE_GROUPS if name in item.fixturenames]
        item.add_marker(pytest.mark.xdist_group(shared[0] if shared else item.module.__name__))
    heavy = {group for item in items if item.get_closest_marker("e2e")
             for group in [item.get_closest_marker("xdist_group").args[0]]}
    items.sort(key=lambda item: item.get_closest_marker("xdist_group").args[0] not in heavy)


@pytest.fixture(scope="session")
def demo_command_run(tmp_path_factory):
    """README's demo, run once: `scripts/demo.sh --work-dir <repo copy>/workdir --demo-count
    16 --image-size 64 --epochs 1 --batch-size 4 --min-pixel-accuracy 0` in a fresh copy of
    the repository (its default work dir, so README's `workdir/...` commands find its results
    there). A DemoRun(returncode, stdout, stderr, work_dir)."""
    from tests import readme

    repo = readme.sandbox(tmp_path_factory.mktemp("demo"))
    work_dir = os.path.join(repo, "workdir")
    result = readme.run(DEMO_COMMAND, "--work-dir", work_dir, *DEMO_FLAGS, cwd=repo)
    return DemoRun(result.returncode, result.stdout, result.stderr, work_dir)


@pytest.fixture(autouse=True)
def _readme_claims_are_run(request):
    """A test claiming README commands (`readme_command` marker) must run them: fails the
    test, if it passed otherwise, when a claimed command did not run in this session."""
    failed_before = request.session.testsfailed
    yield
    claimed = [command for marker in request.node.iter_markers("readme_command")
               if not marker.kwargs.get("not_run") for command in marker.args]
    if not claimed or request.session.testsfailed != failed_before:
        return
    from tests import readme

    missing = [command for command in claimed if command not in readme.RAN]
    if missing:
        pytest.fail(f"{request.node.nodeid} claims README commands it did not run (through "
                    f"tests/readme.py run/run_help): {missing}", pytrace=False)
