"""pipeline/user_module_pip.py: the pip settings TFX's user-module installs run with."""

import json
import os
import re
import subprocess
import sys

from pipeline import user_module_pip

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _install_options(environ):
    """The options pip's own `install` parser derives from `environ` (no arguments given)."""
    code = ("import json; from pip._internal.commands import create_command; "
            "options, _ = create_command('install').parse_args([]); "
            "print(json.dumps([bool(options.warn_about_conflicts), "
            "bool(options.disable_pip_version_check)]))")
    output = subprocess.run([sys.executable, "-c", code], env=environ, check=True,
                            capture_output=True, text=True).stdout
    return tuple(json.loads(output))


def _clean_environ():
    return {name: value for name, value in os.environ.items() if not name.startswith("PIP_")}


def test_pip_reads_the_settings_as_no_conflict_check_and_no_version_check():
    plain = _clean_environ()
    assert _install_options(plain) == (True, False)  # pip's defaults: check, look up versions
    configured = dict(plain)
    user_module_pip.speed_up_user_module_installs(configured)
    assert _install_options(configured) == (False, True)


def test_values_already_set_are_kept():
    environ = {"PIP_NO_WARN_CONFLICTS": "1"}
    user_module_pip.speed_up_user_module_installs(environ)
    assert environ == {"PIP_NO_WARN_CONFLICTS": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def test_the_pipeline_image_sets_the_same():
    with open(os.path.join(REPO, "Dockerfile")) as handle:
        dockerfile = handle.read()
    env_lines = " ".join(re.findall(r"^ENV (.*)$", dockerfile, re.M))
    for name, value in user_module_pip.PIP_ENVIRONMENT.items():
        assert f"{name}={value}" in env_lines.split(), name
