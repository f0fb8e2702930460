"""The Deployment controller: rolls a Deployment's pod template out through ReplicaSets.

Mirrors pkg/controller/deployment: `controller.py` (deployment_controller.go: handlers, the
work queue, `sync_deployment`, claiming ReplicaSets), `sync.py` (sync.go: scaling, the new
ReplicaSet, cleanup, status), `rolling.py`, `recreate.py`, `progress.py` (the Progressing
condition and the deadline). What upstream keeps in pkg/controller/deployment/util is split by
concern: `revisions.py` (revision and replica annotations), `conditions.py`,
`replicas.py` (maxSurge/maxUnavailable arithmetic and ReplicaSet orderings) and
`podtemplatehash.py` (the `pod-template-hash` label). The ReplicaSet controller
(`controllers/replicaset.py`) makes the pods.
"""
