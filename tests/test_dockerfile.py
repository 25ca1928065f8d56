"""The pipeline image's Dockerfile, checked statically (no Docker engine on our machines)."""

import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(name):
    with open(os.path.join(REPO, name)) as handle:
        return handle.read()


def _pins():
    return dict(re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", _read("requirements.lock"), re.M))


@pytest.fixture(scope="module")
def instructions():
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", _read("Dockerfile"))
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_base_image_is_the_official_tfx_image_of_the_pinned_version(instructions):
    froms = [args for op, args in instructions if op == "FROM"]
    assert froms == [f"tensorflow/tfx:{_pins()['tfx']}"]


def test_the_lock_is_copied_and_installed_without_resolution(instructions):
    copies = [args for op, args in instructions if op == "COPY"]
    assert "requirements.lock /pipeline/requirements.lock" in copies
    runs = " ".join(args for op, args in instructions if op == "RUN")
    assert re.search(r"uv pip install [^&]*--no-deps[^&]*-r /pipeline/requirements.lock", runs)
    assert "uv==0.13.9" in runs and "0.13.9" in _read("scripts/ensure_env.sh")  # same installer
    # The lock is resolved for Python 3.10: the build stops if the base image has another.
    assert "sys.version_info[:2] == (3, 10)" in runs
    assert "--python-version 3.10" in _read("scripts/lock.sh")  # how the lock is resolved


def test_the_project_is_copied_where_the_compiled_pipeline_expects_it(instructions):
    from pipeline.cloud import IMAGE_PROJECT_DIR

    assert ("WORKDIR", IMAGE_PROJECT_DIR) in instructions
    assert ("ENV", f"PYTHONPATH={IMAGE_PROJECT_DIR}") in instructions
    copied = {args.split()[0] for op, args in instructions if op == "COPY"
              and not args.startswith("--from")}
    # Every package pyproject names, the schema the pipeline reads, and the runners.
    packages = re.search(r"packages = \[(.*?)\]", _read("pyproject.toml")).group(1)
    for name in re.findall(r'"(\w+)"', packages) + ["schema", "deploy"]:
        assert name in copied, name
        assert os.path.isdir(os.path.join(REPO, name)), name
    for name in ("kubeflow_v2_runner.py", "local_runner.py"):
        assert any(name in args for op, args in instructions if op == "COPY"), name
    ignored = _read(".dockerignore").split()
    assert not set(ignored) & (copied | {"requirements.lock"}), ignored
    runs = " ".join(args for op, args in instructions if op == "RUN")
    assert "from pipeline.pipeline import create_pipeline" in runs  # the build imports it


def test_dataflow_workers_get_beams_boot_of_the_pinned_beam(instructions):
    pins = _pins()
    assert ("COPY", f"--from=apache/beam_python3.10_sdk:{pins['apache-beam']} "
                    "/opt/apache/beam /opt/apache/beam") in instructions
    assert instructions[-1] == ("ENTRYPOINT", '["/opt/apache/beam/boot"]')
