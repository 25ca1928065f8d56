"""What every command of the project shares: its console and log (console.py) and what its exit
status means (exits.py). Standard library only, and nothing of the pipeline."""
