# The pipeline image for Kubeflow V2 / Vertex AI Pipelines (kubeflow_v2_runner.py --image):
# every pipeline step, the Vertex AI training job, and Dataflow workers (--sdk_container_image)
# run it. Build and push it:
#   docker build -t us-docker.pkg.dev/PROJECT/REPO/petseg:TAG . && docker push ...
#
# The base is the official TFX image of the version requirements.lock pins (tests/test_dockerfile.py
# checks the two agree). It ships Python 3.10, the version the lock is resolved for.
FROM tensorflow/tfx:1.16.0

# Where the project lives in the image; pipeline/cloud.py IMAGE_PROJECT_DIR must say the same
# (the compiled pipeline refers to schema/ by this path).
WORKDIR /pipeline

# The same pinned stack as local runs, installed exactly as scripts/ensure_env.sh does: the lock
# as resolved, without dependency resolution (tfx 1.16 declares Requires-Python <3.11).
COPY requirements.lock /pipeline/requirements.lock
RUN python -c "import sys; assert sys.version_info[:2] == (3, 10), sys.version" \
    && python -m pip install --no-cache-dir uv==0.13.9 \
    && uv pip install --python "$(command -v python)" --no-deps --no-cache \
       -r /pipeline/requirements.lock

# The project itself (.dockerignore leaves out work dirs, tests and git).
COPY pyproject.toml README.md local_runner.py kubeflow_v2_runner.py /pipeline/
COPY pipeline /pipeline/pipeline
COPY components /pipeline/components
COPY trainer /pipeline/trainer
COPY oxford_pet /pipeline/oxford_pet
COPY schema /pipeline/schema
COPY deploy /pipeline/deploy
ENV PYTHONPATH=/pipeline
# Each step pip-installs the user-module wheel; skip pip's whole-environment conflict check and
# version lookup (pipeline/user_module_pip.py says why; the local runner sets the same).
ENV PIP_NO_WARN_CONFLICTS=0 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -c "import tfx, tensorflow, tensorflow_transform, tensorflow_model_analysis, \
apache_beam, kfp; from pipeline.pipeline import create_pipeline; import components.versioned_pusher"

# Dataflow starts custom worker containers through Beam's boot program; Vertex AI and Kubeflow
# give every step its own command (python -m tfx.orchestration.kubeflow.v2.container...).
COPY --from=apache/beam_python3.10_sdk:2.66.0 /opt/apache/beam /opt/apache/beam
ENTRYPOINT ["/opt/apache/beam/boot"]
