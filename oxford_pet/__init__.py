"""The Oxford-IIIT Pet dataset on disk: its layout, its breeds, and a generator of demo data."""
