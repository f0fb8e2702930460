"""Keys, objects and one cluster-wide revision: the contract, its errors, the SQLite backend."""

from kajitori.storage.errors import (
    Compacted,
    Conflict,
    InvalidContinue,
    KeyExists,
    KeyNotFound,
    StorageError,
    Unavailable,
)
from kajitori.storage.interface import Obj, Page, Store, WatchEvent
from kajitori.storage.sqlite import SQLiteStore

__all__ = [
    "Compacted",
    "Conflict",
    "InvalidContinue",
    "KeyExists",
    "KeyNotFound",
    "Obj",
    "Page",
    "SQLiteStore",
    "StorageError",
    "Store",
    "Unavailable",
    "WatchEvent",
]
