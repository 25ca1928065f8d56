"""The pipeline definition: one typed config and one `create_pipeline()` shared by runners."""
