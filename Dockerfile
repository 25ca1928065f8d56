# The pipeline image for Kubeflow V2 / Vertex AI Pipelines (kubeflow_v2_runner.py --image):
# every pipeline step, the Vertex AI training job, and Dataflow workers (--sdk_container_image)
# run it. Build and push it:
#   docker build -t us-docker.pkg.dev/PROJECT/REPO/petseg:TAG . && docker push ...
# Try it without Docker or a cloud project: `python -m deploy.emulate` reads this file and runs
# the compiled pipeline's steps in a directory laid out as this image is (README, "Try the
# Vertex pipeline locally").
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

# The project: the whole build context except what .dockerignore leaves out (tests, benchmarks,
# docs, work dirs, git), so every package of the project is in the image by construction. The
# one list of the packages is pyproject.toml's; tests/test_dockerfile.py finds the packages by
# walking the repository and checks that this layout holds each.
COPY . /pipeline/
# Every step imports the project from here: Transform and Trainer load
# trainer.preprocessing.preprocessing_fn and trainer.train.run_fn by name (no user-module wheel).
ENV PYTHONPATH=/pipeline
# The build fails unless every package pyproject.toml lists imports, with the stack and
# create_pipeline, and every custom artifact type imports from its schema title the way TFX's
# container entrypoint will import it (deploy/image_check.py).
RUN python -m deploy.image_check

# Dataflow starts custom worker containers through Beam's boot program; Vertex AI and Kubeflow
# give every step its own command (python -m tfx.orchestration.kubeflow.v2.container...).
COPY --from=apache/beam_python3.10_sdk:2.66.0 /opt/apache/beam /opt/apache/beam
ENTRYPOINT ["/opt/apache/beam/boot"]
