"""The serving directory: `<serving_dir>/<model_name>/<N>/` versions that TF Serving loads, each
complete or absent, never modified. versions.py reads what is there, manifest.py what each
version says about itself (push_manifest.json), push.py adds versions (and rolls back). The
`list` and `rollback` commands are components/model_versions.py."""
