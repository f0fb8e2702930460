"""The async client every component talks to the cluster with, only through the API.

Mirrors client-go: `rest` (REST calls and kubeconfigs), `informer` (tools/cache: list + watch
into shared caches), `workqueue` (util/workqueue), `leaderelection` (tools/leaderelection on
Leases), `events` (tools/record), with `backoff` and `clock` beneath them. API errors are
`kajitori.api.errors.StatusError`, the class the apiserver raises.
"""

from kajitori.client.backoff import Backoff, BackoffManager
from kajitori.client.clock import Clock, FakeClock, LoopClock
from kajitori.client.events import NORMAL, WARNING, EventRecorder
from kajitori.client.informer import (
    NAMESPACE_INDEX,
    DeletedFinalStateUnknown,
    Indexer,
    Informer,
    InformerSettings,
    ListerWatcher,
    SharedInformerFactory,
    meta_namespace_key,
    split_meta_namespace_key,
)
from kajitori.client.leaderelection import (
    LeaderElectionSettings,
    LeaderElector,
    LeaseLock,
    default_identity,
)
from kajitori.client.rest import Config, ListWatch, RESTClient, load_kubeconfig, resource_path
from kajitori.client.workqueue import (
    DelayingQueue,
    Queue,
    RateLimitingQueue,
    ShutDown,
    default_controller_rate_limiter,
)

__all__ = [
    "NAMESPACE_INDEX",
    "NORMAL",
    "WARNING",
    "Backoff",
    "BackoffManager",
    "Clock",
    "Config",
    "DelayingQueue",
    "DeletedFinalStateUnknown",
    "EventRecorder",
    "FakeClock",
    "Indexer",
    "Informer",
    "InformerSettings",
    "LeaderElectionSettings",
    "LeaderElector",
    "LeaseLock",
    "ListWatch",
    "ListerWatcher",
    "LoopClock",
    "Queue",
    "RESTClient",
    "RateLimitingQueue",
    "SharedInformerFactory",
    "ShutDown",
    "default_controller_rate_limiter",
    "default_identity",
    "load_kubeconfig",
    "meta_namespace_key",
    "resource_path",
    "split_meta_namespace_key",
]
