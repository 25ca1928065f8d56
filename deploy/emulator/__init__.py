"""A local emulation of Vertex AI Pipelines for this project's compiled pipeline.

`python -m deploy.emulate` (deploy/emulate.py) is the command; the pieces:
- spec.py: the compiled PipelineJob (tasks, executors, artifact types, placeholders);
- image.py: the Dockerfile's WORKDIR, COPY and ENV applied to a directory (the image layout);
- store.py: the emulator's ML Metadata store and the Vertex ListArtifacts filter syntax;
- invocation.py: the ExecutorInput a launcher hands each step, and what it reads back;
- processes.py, zygote.py: each step in its own process (cold, or forked from a warm one);
- training.py, registry.py, standin.py: Vertex AI Training's JobService, the Model Registry
  and endpoints, and the client stand-ins that talk to them from inside the steps (service.py:
  the socket both answer on);
- kfp.py: what open-source Kubeflow Pipelines v2 would do with the same file instead;
- run.py: one PipelineJob, task by task.

It imports nothing of the pipeline itself: it reads the JSON and the Dockerfile, as Vertex AI
reads the JSON and runs the image.
"""
