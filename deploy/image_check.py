"""`python -m deploy.image_check`: what the pipeline image must hold, checked when it is built.

The Dockerfile's last build step runs it inside the image (Python 3.10, the lock's stack, the
project at /pipeline), so a build that would give Vertex AI a broken step fails instead:
1. every package pyproject.toml lists (the one list of the project's packages) imports, with
   all its modules: a package the image lacks, or a module importing one it lacks, fails here;
2. the pipeline definition imports (`pipeline.pipeline.create_pipeline`);
3. every TFX artifact type the project defines is importable from its schema title by TFX's own
   container-entrypoint code, the way every step will import it (petseg/ says why), and the
   title passes the rule Vertex AI applies (deploy/vertex_rules.py).

Exit 0 when all hold; else one line per problem on stderr and exit 1.
"""

import argparse
import importlib
import os
import pkgutil
import sys
import traceback
from typing import List, Optional

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYPROJECT = "pyproject.toml"


def project_packages(root: str = REPO_ROOT) -> List[str]:
    """The packages pyproject.toml lists ([tool.setuptools] packages), in its order."""
    try:
        import tomllib  # Python 3.11
    except ModuleNotFoundError:  # the image's Python 3.10: tomli is in requirements.lock
        import tomli as tomllib
    with open(os.path.join(root, PYPROJECT), "rb") as handle:
        return list(tomllib.load(handle)["tool"]["setuptools"]["packages"])


def _import_all(package: str, problems: List[str]) -> None:
    """Imports `package` and every module under it (not `__main__`: it would run a command)."""
    try:
        module = importlib.import_module(package)
    except Exception as error:  # noqa: BLE001 - every failure is a finding
        problems.append(f"package {package}: {type(error).__name__}: {error}")
        return
    paths = list(getattr(module, "__path__", []))
    for info in pkgutil.iter_modules(paths, prefix=f"{package}."):
        if info.ispkg or info.name.endswith(".__main__"):
            continue  # subpackages are listed on their own in pyproject.toml
        try:
            importlib.import_module(info.name)
        except Exception as error:  # noqa: BLE001
            problems.append(f"module {info.name}: {type(error).__name__}: {error}")


def project_artifact_types(packages: List[str]):
    """Every TFX Artifact subclass defined in the given (imported) packages."""
    from tfx.types.artifact import Artifact

    found, pending = [], list(Artifact.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in {name.split(".")[0] for name in packages}:
            found.append(cls)
    return sorted(set(found), key=lambda cls: cls.TYPE_NAME)


def check_artifact_type(cls) -> Optional[str]:
    """None if TFX's container entrypoint finds `cls` from the schema title the compiler gives
    it (compiler_utils.get_artifact_schema -> kubeflow_v2_entrypoint_utils._retrieve_class_path
    -> import_utils.import_class_by_path, TFX 1.16), else what goes wrong."""
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.orchestration.kubeflow.v2 import compiler_utils
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as entry
    from tfx.utils import import_utils

    from deploy import vertex_rules

    problem = vertex_rules.schema_title_problem(cls.TYPE_NAME)
    if problem:
        return f"artifact type {cls.__module__}.{cls.__qualname__}: {problem}"
    schema = pipeline_spec_pb2.ArtifactTypeSchema(
        instance_schema=compiler_utils.get_artifact_schema(cls))
    class_path = entry._retrieve_class_path(schema)  # pylint: disable=protected-access
    try:
        found = import_utils.import_class_by_path(class_path)
    except ImportError as error:
        return (f"artifact type {cls.__module__}.{cls.__qualname__}: TFX's container entrypoint "
                f"imports its schema title {cls.TYPE_NAME!r} as a class path and fails: "
                f"{error} ({error.__cause__}); define the class as "
                f"{cls.TYPE_NAME.split('.')[1]} in a top-level module "
                f"{cls.TYPE_NAME.split('.')[0]}")
    if found is not cls:
        return (f"artifact type {cls.__module__}.{cls.__qualname__}: its schema title "
                f"{cls.TYPE_NAME!r} imports another class, {found.__module__}.{found.__qualname__}")
    return None


def run_checks(root: str = REPO_ROOT) -> List[str]:
    problems: List[str] = []
    packages = project_packages(root)
    for package in packages:
        _import_all(package, problems)
    try:
        from pipeline.pipeline import create_pipeline  # noqa: F401
    except Exception as error:  # noqa: BLE001
        problems.append(f"pipeline.pipeline.create_pipeline: {type(error).__name__}: {error}")
    for cls in project_artifact_types(packages):
        problem = check_artifact_type(cls)
        if problem:
            problems.append(problem)
    return problems


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.image_check",
        description="Check that this directory holds a working pipeline image: every package "
                    "pyproject.toml lists imports (all its modules), create_pipeline imports, "
                    "and every custom artifact type imports from its schema title as TFX's "
                    "container entrypoint does. The Dockerfile runs it as a build step.")
    parser.add_argument("--root", default=REPO_ROOT,
                        help="the project directory holding pyproject.toml (in the image: "
                             "/pipeline)")
    args = parser.parse_args(argv)
    print(f"Checking the pipeline image at {args.root} (Python "
          f"{sys.version.split()[0]})...", flush=True)
    try:
        problems = run_checks(args.root)
    except Exception:  # noqa: BLE001 - a crash of the check itself is a failed build too
        traceback.print_exc()
        return 1
    for problem in problems:
        print(f"image check: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"The image holds {', '.join(project_packages(args.root))}; every custom artifact "
          "type imports from its schema title.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
