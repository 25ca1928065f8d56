"""One PipelineJob, run task by task as Vertex AI Pipelines would run it (or KFP v2, kfp.py).

Before any task: the checks Vertex makes when the job is created (a gs:// pipeline root, a
valid job id, every artifact schema title per Vertex's rule, deploy/vertex_rules.py), then the
image layout (image.py) and the metadata store (store.py). Then every task of
`pipelineSpec.root.dag` once its dependencies have succeeded, independent tasks at the same time
(as Vertex schedules them; `--parallelism` bounds it):
- a resolver is answered from the store (its `outputArtifactQueries`, placeholders filled from
  its inputs);
- a container task gets its output artifacts created (PENDING) under its task directory, its
  ExecutorInput (invocation.py), its preCacheCheck driver first when it has one, a cache lookup
  (KFP's cache key; tasks compiled with caching on), then its command in its own process in the
  image layout (processes.py), on the image's Python, its gs:// URIs as compiled (Cloud Storage
  is emulated: deploy/storage_emulator), image paths (the Dockerfile's WORKDIR and COPY
  destinations) mapped to the layout, Dataflow flags replaced by the DirectRunner's. A file the
  step left under a local path that looks like a gs:// URI (`open("gs://...")` writes
  `gs:/...` in its working directory, lost with the container on Vertex) fails it. What it writes to its output file becomes its artifacts' URI and
  metadata, LIVE in the store, and what its consumers get.
A failed task's consumers do not run; the others go on (Vertex's default failure policy,
PIPELINE_FAILURE_POLICY_FAIL_SLOW; `--failure-policy fast` stops scheduling instead:
aiplatform PipelineJob(failure_policy=...)).
"""

import concurrent.futures
import dataclasses
import datetime
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from cli import exits
from deploy import local_gcs, vertex_rules
from deploy.storage_emulator import backend as storage
from deploy.emulator import environment, image, invocation, kfp, processes, spec as spec_module
from deploy.emulator import store
from deploy.emulator import registry, training

STATE_DIR = ".vertex-emulator"  # under --gcs-dir; no bucket name starts with a dot
TAIL_LINES = 20
LAUNCHERS = ("vertex", "kfp")
# "ValueError: ...", "ModuleNotFoundError: ...", "tensorflow.python.framework.errors_impl.X: ..."
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)): ")
_FILTER_PLACEHOLDER = re.compile(r"\{\{\$\.inputs\.artifacts\['([^']+)'\]\.metadata\['([^']+)'\]\}\}")


@dataclasses.dataclass
class Options:
    template: str
    gcs_dir: str
    dockerfile: str
    context: str
    launcher: str = "vertex"
    project_number: str = "123456789012"
    region: str = "us-central1"
    job_id: Optional[str] = None
    enable_cache: bool = True
    failure_policy: str = "slow"
    cold_start: bool = False
    direct_running_mode: str = "in_memory"  # on one worker: more can lose records
    run_build_steps: bool = False
    parallelism: int = 0  # 0: every ready task at once
    python: str = sys.executable


@dataclasses.dataclass
class TaskResult:
    name: str
    state: str  # SUCCEEDED, CACHED, FAILED, NOT_RUN
    seconds: float = 0.0
    log: str = ""
    message: str = ""
    task_dir: str = ""
    outputs: Dict[str, List[str]] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state in ("SUCCEEDED", "CACHED")


class JobRefusedError(RuntimeError):
    """The job is refused before any task runs, as Vertex (or KFP) refuses to create it."""


class EmulatedJob:
    def __init__(self, options: Options, out: Callable[[str], None] = print):
        self.options = options
        self._out = out
        self._print_lock = threading.Lock()
        self.state_root = os.path.abspath(options.gcs_dir)
        self.spec = spec_module.load(options.template)
        self.vertex = options.launcher == "vertex"
        self.results: Dict[str, TaskResult] = {}
        self.outputs: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
        self.output_parameters: Dict[Tuple[str, str], Any] = {}
        self._said_direct_runner = False  # once a job: every step gets the same Beam flags
        self._stray_named: set = set()  # files under gs: already blamed on a step
        self.job_id = options.job_id or "{}-{}".format(
            re.sub("[^-0-9a-z]+", "-", self.spec.pipeline_name.lower()).strip("-"),
            datetime.datetime.now().strftime("%Y%m%d%H%M%S"))

    # ---- output ----
    def say(self, message: str) -> None:
        stamp = datetime.datetime.now().strftime("%H:%M:%S")
        with self._print_lock:
            self._out(f"[{stamp}] {message}")

    # ---- checks at job creation ----
    def creation_problems(self) -> List[str]:
        spec = self.spec
        if not self.vertex:
            return kfp.run_creation_problems(spec)
        problems = []
        if not spec.pipeline_root.startswith(local_gcs.GCS_SCHEME):
            problems.append(f"runtimeConfig.gcsOutputDirectory {spec.pipeline_root!r} must be a "
                            "gs:// path")
        if not vertex_rules.PIPELINE_JOB_ID.match(self.job_id):
            problems.append(f"job id {self.job_id!r} does not match "
                            f"{vertex_rules.PIPELINE_JOB_ID.pattern}")
        for where, title in spec.artifact_types():
            problem = vertex_rules.schema_title_problem(title)
            if problem:
                problems.append(f"{where}: {problem}")
        return problems

    def emulator_limits(self) -> List[str]:
        """What this emulator cannot run although Vertex would (not Vertex's refusals)."""
        images = self.spec.images()
        if len(images) > 1:
            return [f"the tasks name {len(images)} images ({', '.join(sorted(images))}): the "
                    "emulator lays out one, from --dockerfile (Vertex runs each task's own)"]
        return []

    # ---- the run ----
    def run(self) -> int:
        """Creates the job (BAD_INPUT when Vertex, or KFP, would refuse it), runs its tasks;
        OK only when every task succeeded, else FAILED."""
        refused = self.create()
        if refused:
            for line in refused:
                self.say(line)
            return exits.BAD_INPUT
        self.start_services()
        started = time.time()
        try:
            if self.options.run_build_steps and not self.run_build_steps():
                return exits.FAILED
            self.schedule()
        except KeyboardInterrupt:
            self.say("interrupted: stopping the running steps")
            raise
        finally:
            self.stop_services()
            self.write_summary(time.time() - started)
        return self.finish(time.time() - started)

    def create(self) -> List[str]:
        """Checks the job as its creation would, makes its directory and lays out the image;
        returns why it is refused ([] when created)."""
        options = self.options
        flavour = "Vertex AI Pipelines" if self.vertex else \
            f"open-source Kubeflow Pipelines v2 ({kfp.KFP_VERSIONS})"
        self.say(f"job {self.job_id}: {len(self.spec.tasks)} tasks of {self.options.template}, "
                 f"as {flavour} would run them; gs:// is the emulated Cloud Storage "
                 f"(seeded from {self.state_root})")
        problems = self.creation_problems()
        if problems:
            who = "Vertex AI" if self.vertex else "The KFP API server"
            return ([f"{who} refuses to create the job:"] + [f"  {p}" for p in problems]
                    + [f"job {self.job_id} FAILED before any task ran"])
        limits = self.emulator_limits()
        if limits:
            return (["The emulator cannot run this job (Vertex AI would):"]
                    + [f"  {limit}" for limit in limits]
                    + [f"job {self.job_id} not run"])
        self.job_dir = os.path.join(self.state_root, STATE_DIR, "jobs", self.job_id)
        if os.path.exists(self.job_dir):
            return [f"job {self.job_id} exists already ({self.job_dir}): ALREADY_EXISTS, as "
                    "Vertex answers; pass another --job-id"]
        for sub in ("logs", "executor_inputs", "custom_jobs"):
            os.makedirs(os.path.join(self.job_dir, sub))
        try:
            self.layout = image.build_layout(options.dockerfile, options.context,
                                             os.path.join(self.job_dir, "image"))
        except image.DockerfileError as error:
            return [f"the image cannot be laid out: {error}"]
        for line in self.layout.describe():
            self.say(line)
        problems = environment.lock_problems(options.python, os.path.join(
            self.layout.context, image.LOCK_FILE)) if self.layout.lock_install else [
            f"the Dockerfile installs no {image.LOCK_FILE}"]
        self.say(f"steps run with {options.python} (the image's Python "
                 f"{environment.IMAGE_PYTHON} and requirements.lock"
                 f"{'' if problems else ', checked'}), "
                 f"{'each a fresh process' if options.cold_start else 'forked from a warm one'}"
                 f", no container isolation")
        if problems:
            self.say(f"warning: the steps' environment is not the image's: "
                     f"{'; '.join(problems[:5])}{' ...' if len(problems) > 5 else ''}")
        return []

    def start_services(self) -> None:
        """The metadata store, the step launcher, and the stand-in JobService and Model
        Registry the steps reach through sockets."""
        options, state = self.options, os.path.join(self.state_root, STATE_DIR)
        self.store = store.MetadataStore(
            os.path.join(state, "metadata.json"),
            f"projects/{options.project_number}/locations/{options.region}"
            "/metadataStores/default")
        self.pipeline_context = self.store.context(self.spec.pipeline_name, "system.Pipeline")
        self.run_context = self.store.context(self.job_id, "system.PipelineRun",
                                              parent=self.pipeline_context)
        self.sockets = tempfile.mkdtemp(prefix="vertex-emulator-")
        self.bootstrap = processes.write_bootstrap(os.path.join(self.job_dir, "bootstrap"))
        self.service_socket = os.path.join(self.sockets, "jobs")
        self.launcher = processes.Launcher(
            options.python, self.bootstrap, self.base_env(),
            os.path.join(self.job_dir, "logs", "warm-server.log"), cold=options.cold_start)
        self.job_service = training.JobService(
            self.service_socket, os.path.join(self.job_dir, "custom_jobs"),
            os.path.join(self.job_dir, "logs"), next(iter(self.spec.images()), ""),
            self.run_job_command, self.say) if self.vertex else None
        self.model_socket = os.path.join(self.sockets, "models")
        self.model_service = registry.ModelRegistryService(
            self.model_socket, os.path.join(state, registry.STATE_FILE), options.project_number,
            self.say) if self.vertex else None

    def stop_services(self) -> None:
        self.launcher.close()
        for service in (self.job_service, self.model_service):
            if service:
                service.close()
        shutil.rmtree(self.sockets, ignore_errors=True)

    def base_env(self) -> Dict[str, str]:
        """What every step's process gets: the image's ENV (paths into the layout), the
        environment's bin first on PATH, the bootstrap directory last on PYTHONPATH."""
        env = self.layout.host_env()
        env["PATH"] = os.pathsep.join([os.path.dirname(self.options.python), "/usr/local/bin",
                                       "/usr/bin", "/bin"])
        for name in ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"):
            if name in os.environ:
                env.setdefault(name, os.environ[name])
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (env.get("PYTHONPATH", ""), self.bootstrap) if part)
        return env

    def step_env(self, task: str, extra: Optional[List[Dict[str, str]]] = None) -> Dict[str, str]:
        env = self.base_env()
        for variable in extra or []:  # a container's own env list (name, value)
            env[variable["name"]] = self.layout.map_value(variable.get("value", ""))
        if self.vertex:
            env[processes.SERVICE_ENV] = self.service_socket
            env[processes.MODEL_SERVICE_ENV] = self.model_socket
            env[processes.TASK_ENV] = task
        return env

    def run_build_steps(self) -> bool:
        for step in self.layout.build_steps:
            log = os.path.join(self.job_dir, "logs", f"build-line-{step.line}.log")
            self.say(f"build: RUN {step.args} (line {step.line}) in the layout")
            with open(log, "wb") as out:
                code = subprocess.call(["/bin/sh", "-c", step.args],
                                       cwd=self.layout.host_workdir(),
                                       env=self.base_env(), stdout=out, stderr=subprocess.STDOUT)
            if code != 0:
                self.say(f"build: RUN at line {step.line} FAILED (exit {code}); the image would "
                         f"not build:")
                self.print_tail(log)
                return False
        return True

    # ---- scheduling ----
    def schedule(self) -> None:
        order = self.spec.order()
        pending = list(order)
        workers = self.options.parallelism or len(order)
        stop = False
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            running: Dict[concurrent.futures.Future, str] = {}
            while pending or running:
                for name in list(pending):
                    needs = self.spec.dependencies(name)
                    failed = [dep for dep in needs if dep in self.results
                              and not self.results[dep].ok]
                    if failed:
                        pending.remove(name)
                        self.results[name] = TaskResult(
                            name, "NOT_RUN", message=f"upstream {', '.join(sorted(failed))} "
                                                     "did not succeed")
                        self.say(f"NOT RUN {name}: {self.results[name].message}")
                    elif not stop and all(dep in self.results for dep in needs):
                        pending.remove(name)
                        running[pool.submit(self.run_task, name)] = name
                if stop and not running:
                    for name in pending:
                        self.results[name] = TaskResult(name, "NOT_RUN",
                                                        message="failure policy fast")
                        self.say(f"NOT RUN {name}: a task failed (--failure-policy fast)")
                    break
                if not running:
                    continue
                done, _ = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    result = future.result()
                    self.results[name] = result
                    if not result.ok and self.options.failure_policy == "fast":
                        stop = True

    def run_task(self, name: str) -> TaskResult:
        started = time.time()
        kind = self.spec.kind(name)
        self.say(f"START   {name} ({kind})")
        try:
            result = self.run_resolver(name) if kind == "resolver" else self.run_container(name)
        except (invocation.PlaceholderError, store.FilterError, spec_module.SpecError,
                processes.StepFailedToStart) as error:
            result = TaskResult(name, "FAILED", message=str(error))
        except Exception as error:  # noqa: BLE001 - an emulator fault fails the task, loudly
            import traceback

            result = TaskResult(name, "FAILED",
                                message=f"emulator error: {type(error).__name__}: {error}\n"
                                        + traceback.format_exc())
        result.seconds = time.time() - started
        suffix = f": {result.message}" if result.message and result.ok else ""
        self.say(f"END     {name} {result.state} in {result.seconds:.1f} s{suffix}")
        if not result.ok:
            if result.message:
                self.say(f"  {name}: {result.message}")
            if result.log:
                self.print_tail(result.log)
        return result

    def print_tail(self, log: str) -> None:
        try:
            with open(log, errors="replace") as handle:
                everything = handle.read().splitlines()
        except OSError:
            everything = []
        lines = everything[-TAIL_LINES:]
        with self._print_lock:
            for cause in self.causes(everything):
                self._out(f"  error: {cause}")
            self._out(f"  --- last {len(lines)} lines of {log} ---")
            for line in lines:
                self._out(f"  | {line}")
            self._out(f"  --- full log: {log}")

    def causes(self, lines: List[str]) -> List[str]:
        """The exceptions of the log's tracebacks, root cause first (a chain of `raise ...
        from` shows the first one far above the last lines), with what a missing module means
        here: the image layout lacks it."""
        found = []
        for index, line in enumerate(lines):
            match = _EXCEPTION_LINE.match(line)
            if match and index and (lines[index - 1].startswith(" ") or
                                    lines[index - 1].startswith("Traceback")):
                if line not in found:
                    found.append(line)
        said = []
        for line in found[-4:]:
            said.append(line)
            missing = re.match(r"^ModuleNotFoundError: No module named '([\w.]+)'", line)
            if missing:
                top = missing.group(1).split(".")[0]
                in_context = os.path.exists(os.path.join(self.layout.context, top)) or \
                    os.path.exists(os.path.join(self.layout.context, top + ".py"))
                in_image = os.path.exists(self.layout.host_path(
                    f"{self.layout.workdir}/{top}")) or os.path.exists(
                        self.layout.host_path(f"{self.layout.workdir}/{top}.py"))
                if in_context and not in_image:
                    said.append(f"module {missing.group(1)!r} is in the build context but not in "
                                f"the image ({self.layout.dockerfile}: COPY lines, ignore file "
                                f"{self.layout.ignore_file or 'none'})")
        return said

    # ---- resolvers ----
    def input_artifacts(self, name: str) -> Dict[str, List[Dict[str, Any]]]:
        found = {}
        for key, source in self.spec.tasks[name].get("inputs", {}).get("artifacts", {}).items():
            if "taskOutputArtifact" not in source:
                raise spec_module.SpecError(f"task {name}: input {key} is not a task output "
                                            f"({sorted(source)}): not emulated")
            producer = source["taskOutputArtifact"]
            listed = self.outputs.get((producer["producerTask"], producer["outputArtifactKey"]),
                                      [])
            found[key] = [self.store.artifact(a["name"]) or a for a in listed]
        return found

    def run_resolver(self, name: str) -> TaskResult:
        queries = self.spec.executor(name)["resolver"].get("outputArtifactQueries", {})
        inputs = self.input_artifacts(name)
        said = []
        for key, query in sorted(queries.items()):
            text, resolvable = self.fill_filter(name, query.get("filter", ""), inputs)
            found = self.store.list_artifacts(text, self.pipeline_context,
                                              int(query.get("limit", 0) or 1)) if resolvable else []
            self.outputs[(name, key)] = found
            said.append(f"{key} = " + (", ".join(f"{a['name'].rsplit('/', 1)[1]} "
                                                 f"({a['schema_title']}, {a['uri']})"
                                                 for a in found) or "nothing"))
        self.store.record_execution(task=name, job=self.job_id, state="COMPLETE",
                                    outputs={k: [a["name"] for a in self.outputs[(name, k)]]
                                             for k in queries},
                                    contexts=[self.run_context])
        return TaskResult(name, "SUCCEEDED", message="; ".join(said),
                          outputs={k: [a["name"] for a in self.outputs[(name, k)]]
                                   for k in queries})

    def fill_filter(self, task: str, text: str,
                    inputs: Dict[str, List[Dict[str, Any]]]) -> Tuple[str, bool]:
        """The filter with its input placeholders filled; (text, False) when an input it
        reads has no artifact (nothing resolved upstream: the query returns nothing)."""
        resolvable = True

        def fill(match):
            nonlocal resolvable
            key, field = match.group(1), match.group(2)
            if key not in inputs:
                raise store.FilterError(f"task {task}: filter reads input {key!r}, which the "
                                        "task does not have")
            if not inputs[key]:
                resolvable = False
                return ""
            metadata = inputs[key][0].get("metadata", {})
            if field not in metadata:
                raise store.FilterError(f"task {task}: input {key} ({inputs[key][0]['name']}) "
                                        f"has no metadata {field!r} for the filter")
            return str(metadata[field])

        filled = _FILTER_PLACEHOLDER.sub(fill, text)
        return filled, resolvable

    # ---- container tasks ----
    def run_container(self, name: str) -> TaskResult:
        """One container task: its executor input, its driver hook (Vertex), the cache, the
        step itself, and its outputs recorded in the store."""
        spec = self.spec
        container = spec.executor(name)["container"]
        if not self.vertex:
            problems = kfp.driver_problems(spec, name)
            if problems:
                more = f" (and {len(problems) - 1} more parameters)" if len(problems) > 1 else ""
                return TaskResult(name, "FAILED", message=f"KFP driver: {problems[0]}{more}")
        parameters = invocation.task_parameters(spec, name, self.output_parameters)
        inputs = self.input_artifacts(name)
        task_dir, output_file, salt = self.task_paths(name)
        outputs = self.declare_outputs(name, task_dir, salt)
        build = invocation.vertex_executor_input if self.vertex else kfp.kfp_executor_input
        executor_input = build(parameters, inputs, outputs, output_file)
        log = os.path.join(self.job_dir, "logs", f"{name}.log")
        result = TaskResult(name, "FAILED", log=log, task_dir=task_dir)
        if not output_file.startswith(local_gcs.GCS_SCHEME):  # KFP: a local file
            os.makedirs(os.path.dirname(output_file), exist_ok=True)
        if not self.run_driver(name, container, executor_input, output_file, result):
            return result
        key = invocation.cache_key(executor_input, container, spec.pipeline_name)
        self.save_input(name, executor_input)
        if self.use_cache(name, key, result):
            return result
        started = time.time()
        code = self.launch(name, container, executor_input, log)
        stray = self.stray_gcs_files(started)
        if code != 0 or stray:
            self.store.record_execution(task=name, job=self.job_id, state="FAILED",
                                        cache_key=key, contexts=[self.run_context])
            result.message = f"exit status {code}" if code else (
                f"it wrote {len(stray)} files under a local path that looks like a gs:// URI "
                f"(on Vertex these files are lost with the container): "
                f"{', '.join(stray[:5])}{' ...' if len(stray) > 5 else ''}; a gs:// URI is "
                "reached through tf.io.gfile or a Cloud Storage client (storage/files.py), "
                "never open() or os")
            return result
        final = self.record_outputs(name, outputs, executor_input, output_file, key, inputs)
        result.state = "SUCCEEDED"
        result.outputs = {k: [a["name"] for a in v] for k, v in final.items()}
        return result

    def task_paths(self, name: str) -> Tuple[str, str, str]:
        """(task directory, executor output file, KFP's salt ("" on Vertex)) of a task."""
        spec = self.spec
        if self.vertex:
            task_dir = (f"{spec.pipeline_root.rstrip('/')}/{self.options.project_number}/"
                        f"{self.job_id}/{name}_{random.getrandbits(62)}")
            return task_dir, f"{task_dir}/executor_output.json", ""
        salt = kfp.new_salt()
        output_file = os.path.join(self.job_dir, "containers", name) + kfp.OUTPUT_METADATA_FILE
        return f"{spec.pipeline_root.rstrip('/')}/{name}/{salt}", output_file, salt

    def declare_outputs(self, name: str, task_dir: str, salt: str) -> Dict[str, Dict[str, Any]]:
        """The task's output artifacts, declared in the store before it runs."""
        outputs = {}
        for key, definition in sorted(self.spec.component(name).get("outputDefinitions", {})
                                      .get("artifacts", {}).items()):
            artifact_type = definition.get("artifactType", {})
            uri = f"{task_dir}/{key}" if self.vertex else kfp.output_uri(
                self.spec.pipeline_root, name, key, salt)
            outputs[key] = self.store.new_artifact(
                key, spec_module.schema_title(artifact_type), artifact_type.get(
                    "instanceSchema", ""), uri, [self.pipeline_context, self.run_context])
        return outputs

    def run_driver(self, name: str, container: Dict[str, Any], executor_input: Dict[str, Any],
                   output_file: str, result: TaskResult) -> bool:
        """Runs the container's preCacheCheck hook (ExampleGen's driver) on Vertex and merges
        what it resolved into the executor input; False (and `result` says why) if it
        failed."""
        hook = container.get("lifecycle", {}).get("preCacheCheck")
        if hook and not self.vertex:
            self.say(f"{name}: its lifecycle.preCacheCheck is not run: KFP v2 has no such hook")
        if not hook or not self.vertex:
            return True
        driver_log = os.path.join(self.job_dir, "logs", f"{name}.driver.log")
        self.say(f"{name}: preCacheCheck driver: {' '.join(hook.get('command', []))}")
        code = self.launch(name, hook, executor_input, driver_log, driver=True)
        if code != 0:
            result.log = driver_log
            result.message = f"its preCacheCheck driver exited with {code}"
            return False
        driver_output = self.read_output_file(output_file) or {}
        invocation.merge_driver_output(executor_input, driver_output)
        return True

    def use_cache(self, name: str, key: str, result: TaskResult) -> bool:
        """Takes the outputs of an earlier execution with the same cache key, when caching is
        on for the task and there is one; True (and `result` CACHED) if so."""
        caching = self.options.enable_cache and self.spec.tasks[name].get(
            "cachingOptions", {}).get("enableCache")
        cached = self.store.cached_execution(key) if caching else None
        if not cached:
            return False
        self.outputs.update({(name, k): [self.store.artifact(n) for n in names]
                             for k, names in cached["outputs"].items()})
        self.output_parameters.update({(name, k): v for k, v in
                                       cached.get("output_parameters", {}).items()})
        self.store.record_execution(task=name, job=self.job_id, state="CACHED",
                                    cache_key=key, cached_from=cached["name"],
                                    outputs=cached["outputs"], contexts=[self.run_context])
        result.state, result.outputs = "CACHED", cached["outputs"]
        result.message = f"cache hit: the outputs of {cached['name']} (job {cached['job']})"
        return True

    def record_outputs(self, name: str, outputs: Dict[str, Dict[str, Any]],
                       executor_input: Dict[str, Any], output_file: str, key: str,
                       inputs: Dict[str, List[Dict[str, Any]]]) -> Dict[str, List[Any]]:
        """Merges what the step wrote (its executor output) into its declared artifacts, as
        the launcher does, and records the execution; returns the final output artifacts."""
        written = self.read_output_file(output_file) or {}
        final = {}
        for out_key, artifact in outputs.items():
            declared = executor_input["outputs"]["artifacts"][out_key]["artifacts"][0]
            listed = written.get("artifacts", {}).get(out_key, {}).get("artifacts", [])
            if listed:
                invocation.merge_runtime_artifact(listed[0], declared)
            final[out_key] = [self.store.update_artifact(
                artifact["name"], uri=declared["uri"], metadata=declared.get("metadata", {}),
                state="LIVE")]
            self.outputs[(name, out_key)] = final[out_key]
        for parameter, value in written.get("parameterValues", {}).items():
            self.output_parameters[(name, parameter)] = value
        self.store.record_execution(
            task=name, job=self.job_id, state="COMPLETE", cache_key=key,
            inputs={k: [a["name"] for a in v] for k, v in inputs.items()},
            outputs={k: [a["name"] for a in v] for k, v in final.items()},
            output_parameters=written.get("parameterValues", {}), contexts=[self.run_context])
        return final

    def stray_gcs_files(self, since: float) -> List[str]:
        """Files that appeared, since `since`, under `gs:` in the steps' working directory:
        what `open("gs://b/x", "w")` or os.makedirs writes (a relative path `gs:/b/x`). Each
        is named once, by the first step that ends after it appeared."""
        root = os.path.join(self.layout.host_workdir(), "gs:")
        found = []
        for directory, _, names in os.walk(root):
            for entry in names:
                path = os.path.join(directory, entry)
                try:
                    fresh = os.lstat(path).st_mtime >= since - 1
                except OSError:
                    continue
                if fresh and path not in self._stray_named:
                    self._stray_named.add(path)
                    found.append(os.path.relpath(path, self.layout.host_workdir()))
        return sorted(found)

    @staticmethod
    def read_output_file(uri: str) -> Optional[Dict[str, Any]]:
        """The step's ExecutorOutput (from Cloud Storage on Vertex, as its launcher reads it),
        or None when it wrote none."""
        if not uri.startswith(local_gcs.GCS_SCHEME):
            return invocation.read_output_file(uri)
        data = storage.read_uri(uri)
        return None if data is None else json.loads(data)

    def step_view(self, value: Any) -> Any:
        """What the step is handed: paths into the image mapped to the layout; gs:// URIs as
        they are."""
        def image_paths(item):
            if isinstance(item, str):
                return self.layout.host_path(item) if item.startswith("/") else item
            if isinstance(item, list):
                return [image_paths(part) for part in item]
            if isinstance(item, dict):
                return {key: image_paths(part) for key, part in item.items()}
            return item
        return image_paths(value)

    def save_input(self, name: str, executor_input: Dict[str, Any]) -> None:
        with open(os.path.join(self.job_dir, "executor_inputs", f"{name}.json"), "w") as handle:
            json.dump(executor_input, handle, indent=1, sort_keys=True)

    def _first_to_say_direct_runner(self) -> bool:
        with self._print_lock:  # steps launch from several threads
            first, self._said_direct_runner = not self._said_direct_runner, True
        return first

    def launch(self, name: str, container: Dict[str, Any], executor_input: Dict[str, Any],
               log: str, driver: bool = False) -> int:
        argv = invocation.command_line(container, self.step_view(executor_input))
        argv, dropped = invocation.direct_runner_args(argv, self.options.direct_running_mode)
        if dropped and not driver and self._first_to_say_direct_runner():
            self.say(f"{name} and every later step that asks for Dataflow: Dataflow -> Beam "
                     f"DirectRunner ({self.options.direct_running_mode}, 1 worker) in the "
                     f"step's process: "
                     f"dropped {' '.join(dropped)}")
        with open(log, "a") as handle:
            handle.write(f"# {name}: {' '.join(argv[:3])} ... (the ExecutorInput is in "
                         f"{os.path.join(self.job_dir, 'executor_inputs', name + '.json')})\n")
        return self.launcher.run(argv, self.step_env(name, container.get("env")),
                                 self.layout.host_workdir(), log, what=name)

    def run_job_command(self, argv: List[str], env: List[Dict[str, str]], task: str,
                        log: str) -> int:
        """A custom job's container command, in the image layout (training.py)."""
        job_env = self.step_env(task, env)
        job_env.pop(processes.SERVICE_ENV, None)  # no pipeline client inside the training job
        job_env.pop(processes.MODEL_SERVICE_ENV, None)
        job_env.pop(processes.TASK_ENV, None)
        return self.launcher.run(argv, job_env, self.layout.host_workdir(), log,
                                 what=f"{task} custom job")

    # ---- the end ----
    def write_summary(self, seconds: float) -> None:
        if not hasattr(self, "job_dir"):
            return
        summary = {"job_id": self.job_id, "launcher": self.options.launcher,
                   "state": "SUCCEEDED" if self.results and all(
                       r.ok for r in self.results.values()) and
                   len(self.results) == len(self.spec.tasks) else "FAILED",
                   "seconds": round(seconds, 1),
                   "tasks": {name: dataclasses.asdict(result)
                             for name, result in sorted(self.results.items())}}
        with open(os.path.join(self.job_dir, "job.json"), "w") as handle:
            json.dump(summary, handle, indent=1, sort_keys=True)

    def finish(self, seconds: float) -> int:
        results = list(self.results.values())
        ok = [r for r in results if r.ok]
        cached = [r for r in results if r.state == "CACHED"]
        if len(ok) == len(self.spec.tasks):
            self.say(f"job {self.job_id} SUCCEEDED in {seconds:.0f} s: {len(ok)} tasks "
                     f"succeeded ({len(cached)} from cache); state and logs in {self.job_dir}")
            return exits.OK
        failed = sorted(r.name for r in results if r.state == "FAILED")
        not_run = sorted(r.name for r in results if r.state == "NOT_RUN")
        self.say(f"job {self.job_id} FAILED in {seconds:.0f} s: failed {', '.join(failed)}"
                 + (f"; not run {', '.join(not_run)}" if not_run else "")
                 + f"; {len(ok)} of {len(self.spec.tasks)} succeeded; logs in "
                   f"{os.path.join(self.job_dir, 'logs')}")
        return exits.FAILED
