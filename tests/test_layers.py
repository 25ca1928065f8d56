"""Imports between the project's folders point one way (ARCHITECTURE, README "Layout"):

    runners (local_runner.py, kubeflow_v2_runner.py, predict.py, deploy/, every __main__.py)
      -> pipeline/ -> components/ -> libraries -> trainer/

Libraries are oxford_pet/ (the dataset), serving/ (the serving directory), runs/ (reading a
run), report/, cli/ (console, exit codes), storage/ (files and lock files) and petseg/ (artifact
types); among them no two folders import each other, directly or around a circle. trainer/
imports nothing else of the project (the model code Transform and Trainer load by name). A
`__main__.py` is a command: nothing imports it, so it sits with the runners whatever folder
holds it. Every import counts, at the top of a module or inside a function.
"""

import ast
import os
from typing import Dict, List, Set, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP = {"tests", "bench", ".git", "workdir", "build", "__pycache__", "docs", "scripts"}
RUNNER, PIPELINE, COMPONENTS, LIBRARY, TRAINER = range(5)
LAYER_NAMES = ["runners", "pipeline/", "components/", "libraries", "trainer/"]
FOLDER_LAYERS = {"deploy": RUNNER, "pipeline": PIPELINE, "components": COMPONENTS,
                 "oxford_pet": LIBRARY, "serving": LIBRARY, "runs": LIBRARY, "report": LIBRARY,
                 "cli": LIBRARY, "storage": LIBRARY, "petseg": LIBRARY, "trainer": TRAINER}
TOP_LEVEL_SCRIPTS = {"local_runner", "kubeflow_v2_runner", "predict"}


def project_modules() -> Dict[str, str]:
    """{dotted module name: path} of every Python file outside tests/ and bench/."""
    modules = {}
    for root, dirs, files in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if d not in SKIP and not d.startswith("."))
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                dotted = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
                modules[dotted.removesuffix(".__init__")] = path
    return modules


def layer_of(module: str) -> int:
    if module.endswith("__main__") or module in TOP_LEVEL_SCRIPTS:
        return RUNNER
    return FOLDER_LAYERS[module.split(".")[0]]


def imports_of(path: str, known: Set[str]) -> Set[str]:
    """The project modules `path` imports (`from a import b` counts a.b when that is a
    module, else a)."""
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known
                     else node.module for alias in node.names]
        found.update(name for name in names if name.split(".")[0] in known)
    return found


def arrows() -> List[Tuple[str, str]]:
    modules = project_modules()
    return sorted((module, imported) for module, path in modules.items()
                  for imported in imports_of(path, set(modules)) if imported != module)


def test_every_module_has_a_layer():
    unknown = [module for module in project_modules() if module.split(".")[0] not in
               FOLDER_LAYERS and module not in TOP_LEVEL_SCRIPTS]
    assert not unknown, f"modules in no layer (add their folder to FOLDER_LAYERS): {unknown}"


def test_imports_point_down_the_layers():
    upward = [f"{module} ({LAYER_NAMES[layer_of(module)]}) imports {imported} "
              f"({LAYER_NAMES[layer_of(imported)]})" for module, imported in arrows()
              if layer_of(imported) < layer_of(module)]
    assert not upward, "imports pointing up the layers:\n  " + "\n  ".join(upward)


def test_the_trainer_imports_nothing_else_of_the_project():
    outside = [f"{module} imports {imported}" for module, imported in arrows()
               if layer_of(module) == TRAINER and not imported.startswith("trainer")]
    assert not outside, outside


def test_no_two_library_folders_import_each_other():
    folder = lambda module: module.split(".")[0]  # noqa: E731
    graph: Dict[str, Set[str]] = {}
    for module, imported in arrows():
        if layer_of(module) == layer_of(imported) == LIBRARY and folder(module) != folder(
                imported):
            graph.setdefault(folder(module), set()).add(folder(imported))

    def cycle_from(start: str, path: List[str]) -> List[str]:
        for following in sorted(graph.get(path[-1], ())):
            if following == start:
                return path + [start]
            if following not in path:
                found = cycle_from(start, path + [following])
                if found:
                    return found
        return []

    cycles = [" -> ".join(cycle_from(start, [start])) for start in sorted(graph)
              if cycle_from(start, [start])]
    assert not cycles, f"library folders importing each other: {cycles}"


def test_the_walk_sees_the_arrows_it_must_judge():
    """The checks above can fail: a known import is found, and a made-up upward one is named."""
    found = set(arrows())
    assert ("local_runner", "pipeline.config") in found
    assert ("components.versioned_pusher", "serving.push") in found
    assert ("pipeline.run_summary", "serving.manifest") in found  # inside a function
    assert ("pipeline.run_summary", "runs.metadata") in found
    assert layer_of("report.__main__") == RUNNER and layer_of("report.facts") == LIBRARY
    assert layer_of("pipeline.config") > layer_of("deploy.vertex")
