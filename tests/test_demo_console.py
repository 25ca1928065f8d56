"""What the demo command prints: a line when each component starts and ends, the
project's own progress lines and the summary, under 60 lines; everything else, complete, in
the run's log file under the pipeline root.

One run of `scripts/demo.sh` on 16 generated images (conftest.py `demo_command_run`, shared).
"""

import os
import re

import pytest

pytestmark = pytest.mark.e2e

# What the console used to print: noise a user cannot act on.
NOISE = {
    "pip": re.compile(r"Looking in indexes|Processing .*\.whl|Successfully installed"),
    "setuptools": re.compile(r"running bdist_wheel|adding '|SetuptoolsDeprecationWarning"),
    "warnings": re.compile(r"FutureWarning|DeprecationWarning|Instructions for updating"),
    "TensorFlow C++": re.compile(r"Unable to register cu(FFT|DNN|BLAS) factory"),
    "TFX": re.compile(r"ArtifactQuery\.property_predicate is not supported"),
    "log records": re.compile(r"^(INFO|WARNING|ERROR):|^[IWE]\d{4} ", re.M),
    "Keras": re.compile(r"Downloading data from"),
}
# Of those, what is certain to have happened in this run, so must be in the log (pip and
# setuptools no longer run: Transform and Trainer load the model code without a wheel).
IN_THE_LOG = ("TensorFlow C++", "TFX")


@pytest.fixture(scope="module")
def demo(demo_command_run):
    from pipeline import run_summary

    run = demo_command_run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    root = os.path.join(run.work_dir, "pipeline_root")
    summary = run_summary.summarize(os.path.join(root, "metadata.sqlite"), "pet-segmentation")
    logs = sorted(os.listdir(os.path.join(root, "logs")))
    return run, summary, os.path.join(root, "logs", logs[-1]), logs


def test_every_component_has_a_start_and_an_end_line(demo):
    run, summary, _, _ = demo
    assert len(summary.components) >= 10
    lines = run.stdout.splitlines()
    for node_id in summary.components:
        start = lines.index(f"Component {node_id} is running")
        [end] = [i for i, line in enumerate(lines)
                 if re.fullmatch(rf"Component {node_id} finished in \d+\.\d s", line)]
        assert start < end, node_id


def test_the_projects_own_lines_and_the_summary_are_shown(demo):
    run, summary, log_path, _ = demo
    out = run.stdout
    assert "[OxfordPetExampleGen] train: 8 listed = 8 ingested (0 repaired) + 0 quarantined" in out
    assert re.search(r"^\[Trainer\] epoch 1/1 \(train [\d.]+ s, validation [\d.]+ s\): ", out,
                     re.M)
    assert "[Trainer] exported the SavedModel in" in out
    assert "[VersionedPusher] pushed version 1 to" in out
    assert "Pipeline 'pet-segmentation' finished in" in out and f"(run {summary.run_id})" in out
    assert "Data eval: 8 listed = 8 ingested" in out and "pixel accuracy" in out
    assert "Pushed version 1 to" in out and "Report: " in out
    # The log's path at the start and as the last line.
    lines = out.splitlines()
    assert f"Log: {log_path}" in lines[:3] and lines[-1] == f"Log: {log_path}"
    # Trainer lines inside the Trainer's start and end lines (not overtaken by the end line).
    assert lines.index("Component Trainer is running") < next(
        i for i, line in enumerate(lines) if line.startswith("[Trainer] exported")) < next(
        i for i, line in enumerate(lines) if line.startswith("Component Trainer finished"))


def test_no_noise_and_under_60_lines(demo):
    run, _, _, _ = demo
    console = run.stdout + run.stderr
    for kind, pattern in NOISE.items():
        assert not pattern.search(console), f"{kind}: {pattern.search(console).group(0)!r}"
    assert len(console.splitlines()) < 60, console
    # stderr holds only the project's own warnings (no weights here: the encoder is random).
    assert all(line.startswith(("warning: ", "  ")) for line in run.stderr.splitlines()), \
        run.stderr


def test_the_log_is_complete(demo):
    run, _, log_path, logs = demo
    assert len(logs) == 1 and re.fullmatch(r"run-\d{8}-\d{6}\.log", logs[0])
    text = open(log_path, encoding="utf-8").read()
    for kind in IN_THE_LOG:
        assert NOISE[kind].search(text), f"{kind} missing from the log"
    assert "INFO absl: Component Trainer is running." in text  # TFX's own records
    shown = run.stdout.splitlines()
    logged = shown[[i for i, line in enumerate(shown) if line.startswith("Log: ")][0]:]
    for line in logged + run.stderr.splitlines():  # every line shown from the log's start on
        assert line in text, line
    assert text.rstrip().splitlines()[-1].startswith("=== ended")
