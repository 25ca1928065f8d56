"""Submitting and scheduling the compiled pipeline (kubeflow_v2_runner.py output)."""
