"""Controllers: one module per upstream controller, run by `manager.run` under leader election.

The manager and its table of controllers are `manager.py` and `registry.py`; the machinery the
controllers share is `worker.py` (the work-queue loop), `discovery.py` (what the server serves),
`expectations.py` and `podcontrol.py` (for controllers that own pods). Controllers talk to the
cluster only through `kajitori.client`, and never import one another.
"""
