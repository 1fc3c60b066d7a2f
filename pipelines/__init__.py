"""golden-records pipeline stages.

Each stage is a package with one entry point that takes the typed config and a run id and
talks to the other stages only through files in the warehouse (see ``docs/architecture.md``).
"""

__version__ = "0.1.0"
