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
    # The whole context goes in, after the lock's (slow, rarely changed) layer.
    copies = [args for op, args in instructions if op == "COPY"]
    assert copies.index(f". {IMAGE_PROJECT_DIR}/") > copies.index(
        "requirements.lock /pipeline/requirements.lock")
    ignored = _read(".dockerignore").split()
    assert "requirements.lock" not in ignored and "schema" not in ignored
    runs = [args for op, args in instructions if op == "RUN"]
    assert runs[-1] == "python -m deploy.image_check"  # the build imports what steps import


def _imported_top_level_names():
    """Top-level names every .py file of the repository imports."""
    import ast

    names = set()
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("__pycache__",)]
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(root, name), encoding="utf-8") as handle:
                    tree = ast.parse(handle.read())
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        names.update(alias.name.split(".")[0] for alias in node.names)
                    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                        names.add(node.module.split(".")[0])
    return names


def repository_packages():
    """The project's packages, found by walking the repository: every directory (outside
    tests/) with an __init__.py, and every top-level directory of .py modules the code imports
    as a package (trainer/ is a namespace package)."""
    found = set()
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "tests")]
        if root != REPO and "__init__.py" in files:
            found.add(os.path.relpath(root, REPO).replace(os.sep, "."))
    imported = _imported_top_level_names()
    for entry in os.listdir(REPO):
        path = os.path.join(REPO, entry)
        if os.path.isdir(path) and entry in imported and entry != "tests" and any(
                name.endswith(".py") for name in os.listdir(path)):
            found.add(entry)
    return found


def test_one_list_of_the_packages_used_by_pyproject_the_image_and_its_check(tmp_path):
    """pyproject.toml lists every package the repository holds; the image (laid out from the
    Dockerfile as the emulator does) holds each; the image check reads the same list."""
    from deploy import image_check
    from deploy.emulator import image

    listed = image_check.project_packages(REPO)
    assert sorted(listed) == sorted(repository_packages())
    assert {"report", "petseg", "deploy", "trainer"} <= set(listed)  # report/: the fault found
    layout = image.build_layout(os.path.join(REPO, "Dockerfile"), REPO, str(tmp_path))
    for package in listed:
        directory = layout.host_path(f"/pipeline/{package.replace('.', '/')}")
        assert os.path.isdir(directory), f"the image lacks {package}"
        assert any(name.endswith(".py") for name in os.listdir(directory)), package
    assert os.path.isfile(layout.host_path("/pipeline/schema/schema.pbtxt"))
    assert not os.path.exists(layout.host_path("/pipeline/tests"))


def test_the_image_check_passes_here_and_fails_on_a_package_missing(tmp_path):
    """The Dockerfile's last build step: every listed package imports (all its modules), and
    every custom artifact type from its schema title; a listed package the image lacks is named
    (report/ was missing from the image, and every Vertex run failed in its last step)."""
    from deploy import image_check

    assert image_check.run_checks(REPO) == []
    (tmp_path / "pyproject.toml").write_text(
        '[tool.setuptools]\npackages = ["pipeline", "no_such_package"]\n')
    [problem] = image_check.run_checks(str(tmp_path))
    assert problem.startswith("package no_such_package: ModuleNotFoundError")


def test_dataflow_workers_get_beams_boot_of_the_pinned_beam(instructions):
    pins = _pins()
    assert ("COPY", f"--from=apache/beam_python3.10_sdk:{pins['apache-beam']} "
                    "/opt/apache/beam /opt/apache/beam") in instructions
    assert instructions[-1] == ("ENTRYPOINT", '["/opt/apache/beam/boot"]')
