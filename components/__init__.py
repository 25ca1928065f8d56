"""The project's own TFX components (ingest, validation gate, versioned push)."""
