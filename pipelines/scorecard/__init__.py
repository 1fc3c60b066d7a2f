"""``dq_scorecard``: per run, source and field quality scores, kept across runs, and its offline
report (``reports/dq_scorecard/index.html``). See :mod:`pipelines.scorecard.build`."""
