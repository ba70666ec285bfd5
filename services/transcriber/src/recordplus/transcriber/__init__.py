"""RecordPlus transcriber: Dramatiq actors (tasks.py) over plain modules that transcribe audio."""
