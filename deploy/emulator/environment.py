"""The Python environment emulated steps run in: the image's Python (3.10, tensorflow/tfx:1.16.0's)
with the packages the image installs (requirements.lock, each line whose marker holds on 3.10).

Built once per machine by scripts/ensure_env.sh (PETSEG_PYTHON=python3.10; `~/.cache/petseg/
envs/<lock hash>-py3.10`), which needs the package registry the first time, so it is built
before the emulator enters its network namespace; `lock_problems` then compares what is
installed with the lock. What still differs from the image: the base image's own files
(Debian, CUDA libraries, the packages tensorflow/tfx:1.16.0 ships that the lock does not pin
and the image keeps), and that no container isolates the step.
"""

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
from typing import Callable, Dict, List, Optional

IMAGE_PYTHON = "3.10"  # the Dockerfile's base image's; its build asserts it
ENSURE_ENV = os.path.join("scripts", "ensure_env.sh")


class EnvironmentError_(RuntimeError):  # noqa: N801 - not the builtin
    """The image's environment cannot be built here; the message says what to do."""


def find_interpreter(version: str = IMAGE_PYTHON) -> Optional[str]:
    """A `python3.10` on PATH, else one pyenv installed."""
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
        return found
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin",
                                               f"python{version}")))
    return candidates[-1] if candidates else None


def ensure(repo_root: str, say: Callable[[str], None]) -> str:
    """The interpreter of the image's environment, built first when missing."""
    interpreter = find_interpreter()
    if interpreter is None:
        raise EnvironmentError_(
            f"no Python {IMAGE_PYTHON} here (the pipeline image's): install it (e.g. `pyenv "
            f"install {IMAGE_PYTHON}`) or pass --python with an environment of the image's "
            "stack")
    if not _built(repo_root):
        say(f"building the image's Python environment (Python {IMAGE_PYTHON}, "
            "requirements.lock; once per machine, about a minute with a warm package cache)")
    built = subprocess.run(["bash", os.path.join(repo_root, ENSURE_ENV)], cwd=repo_root,
                           env=dict(os.environ, PETSEG_PYTHON=interpreter),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if built.returncode != 0:
        raise EnvironmentError_(f"{ENSURE_ENV} failed for Python {IMAGE_PYTHON}: "
                                f"{(built.stderr.strip().splitlines() or [''])[-1]}")
    return os.path.join(built.stdout.strip().splitlines()[-1], "bin", "python")


def _built(repo_root: str) -> bool:
    """True when ensure_env.sh would find the environment complete (no build needed)."""
    with open(os.path.join(repo_root, "requirements.lock"), "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()[:16]
    root = os.environ.get("PETSEG_ENV_ROOT", os.path.expanduser("~/.cache/petseg/envs"))
    return os.path.isfile(os.path.join(root, f"{digest}-py{IMAGE_PYTHON}", ".complete"))


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(lock_path: str, python_version: str) -> Dict[str, str]:
    """{package: version} the lock installs on `python_version` (its markers evaluated)."""
    from packaging.markers import Marker

    pins = {}
    for line in open(lock_path, encoding="utf-8"):
        if not line.strip() or line[0].isspace() or line.startswith("#"):
            continue
        requirement, _, marker = line.partition(";")
        if marker.strip() and not Marker(marker.strip()).evaluate(
                {"python_version": python_version, "python_full_version": python_version
                 + ".0", "sys_platform": "linux", "platform_system": "Linux",
                 "platform_machine": "x86_64", "implementation_name": "cpython",
                 "os_name": "posix", "platform_python_implementation": "CPython"}):
            continue
        name, _, version = requirement.strip().partition("==")
        pins[_normal(name.split("[")[0])] = version.strip()
    return pins


def lock_problems(python: str, lock_path: str) -> List[str]:
    """How the environment of `python` differs from the lock on its Python version ([] when it
    holds exactly the lock's versions of the lock's packages)."""
    answer = subprocess.run(
        [python, "-c", "import importlib.metadata as m, json, sys; print(json.dumps(["
                       "'%d.%d' % sys.version_info[:2], {d.metadata['Name']: d.version "
                       "for d in m.distributions()}]))"], capture_output=True, text=True)
    if answer.returncode != 0:
        return [f"{python} did not run: {answer.stderr.strip()[-300:]}"]
    version, installed = json.loads(answer.stdout)
    installed = {_normal(name): value for name, value in installed.items()}
    problems = [] if version == IMAGE_PYTHON else [
        f"Python {version}, not the image's {IMAGE_PYTHON}"]
    for name, pinned in sorted(lock_pins(lock_path, version).items()):
        if installed.get(name) != pinned:
            problems.append(f"{name} {installed.get(name, 'missing')} (the lock: {pinned})")
    return problems
