"""A small kopf operator for the CronTab custom resource of tests/e2e/test_kopf_operator.py.

Run as `kopf run --standalone --namespace=<ns> crontab_operator.py` with CRONTAB_GROUP naming
the CRD's group. It records in each CronTab's status what it last saw: `Created`, `Updated`
(with the spec's image), and `Deleting` while kopf's finalizer holds the object.
"""

from __future__ import annotations

import os
from typing import Any

import kopf

GROUP = os.environ["CRONTAB_GROUP"]


@kopf.on.create(GROUP, "v1", "crontabs")
def created(spec: Any, patch: kopf.Patch, **_: Any) -> None:
    patch.status["phase"] = "Created"
    patch.status["image"] = spec.get("image")


@kopf.on.update(GROUP, "v1", "crontabs")
def updated(spec: Any, patch: kopf.Patch, **_: Any) -> None:
    patch.status["phase"] = "Updated"
    patch.status["image"] = spec.get("image")


@kopf.on.delete(GROUP, "v1", "crontabs")
def deleting(patch: kopf.Patch, **_: Any) -> None:
    patch.status["phase"] = "Deleting"
