"""Processes inside one OS process: the scheduler, the process table, channels and threads."""
