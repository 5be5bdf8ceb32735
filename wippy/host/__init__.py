"""A host OS process: its main loop, and the table of runners that turns entries into code."""
