"""The installed environment is the one requirements.lock describes, and consistent on this Python.

The lock is resolved for Python 3.10 and installed without resolution (scripts/ensure_env.sh), so
nothing but these tests notices when an installed package's own requirements are not met: until
requirements-py311.txt, six of TFX 1.16's libraries wanted protobuf >= 4.25.2 on 3.11 and got
3.20.3, which ran as pure Python.
"""

import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCK = os.path.join(REPO, "requirements.lock")
OVERLAY = os.path.join(REPO, "requirements-py311.txt")


def _name(line: str) -> str:
    return re.split(r"[=<>!~;\s\[]", line, maxsplit=1)[0].lower().replace("_", "-")


def _pins(path: str):
    return [line.strip() for line in open(path)
            if line.strip() and not line[0].isspace() and not line.startswith("#")]


def test_every_installed_package_has_what_it_requires():
    uv = os.path.join(os.path.dirname(sys.executable), "uv")
    if not os.path.exists(uv):
        pytest.skip("uv is not in this environment (scripts/ensure_env.sh installs it)")
    result = subprocess.run([uv, "pip", "check", "--python", sys.executable],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_protobuf_runs_its_compiled_implementation():
    from google.protobuf.internal import api_implementation

    assert api_implementation.Type() != "python"


def test_each_python_311_pin_replaces_the_310_one_under_complementary_markers():
    lock = _pins(LOCK)
    for pin in _pins(OVERLAY):
        lines = [line for line in lock if _name(line) == _name(pin)]
        assert len(lines) == 2, lines
        assert lines[0].endswith('; python_version < "3.11"'), lines
        assert lines[1] == f'{pin} ; python_version >= "3.11"', lines


def test_the_installed_versions_are_the_locked_ones():
    from importlib import metadata

    from packaging.markers import Marker

    for line in _pins(LOCK):
        requirement, _, marker = line.partition(";")
        if marker and not Marker(marker).evaluate():
            continue
        name, _, version = requirement.strip().partition("==")
        assert metadata.version(name) == version, name


def test_the_image_environment_has_what_its_packages_require_and_the_locks_versions():
    """The pipeline image's Python (3.10) with the lock's 3.10 pins, as the Vertex emulation
    runs its steps (built once by scripts/ensure_env.sh; deploy/emulator/environment.py)."""
    from deploy.emulator import environment

    uv = os.path.join(os.path.dirname(sys.executable), "uv")
    if not os.path.exists(uv):
        pytest.skip("uv is not in this environment (scripts/ensure_env.sh installs it)")
    python = environment.ensure(REPO, print)
    assert environment.lock_problems(python, LOCK) == []
    result = subprocess.run([uv, "pip", "check", "--python", python], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    found = subprocess.run([python, "-c", "import tensorflow_datasets, google.protobuf as p; "
                                          "print(tensorflow_datasets.__version__, p.__version__)"],
                           capture_output=True, text=True)
    assert found.stdout.split() == ["4.9.10", "3.20.3"], found.stderr[-2000:]
