"""The Jet template engine behind :mod:`wippy.templates` (the subset Wippy's docs and examples
use): :mod:`.syntax` parses a template into a tree (and lists the syntax), :mod:`.render` runs
one against a loader of templates by name. Pure: no registry, no processes.
"""
from __future__ import annotations
