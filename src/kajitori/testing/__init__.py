"""Real clusters for tests.

`kajitori.testing.cluster()` starts a server in a temporary directory and yields its admin
kubeconfig; `running(data_dir)` starts one on a given directory (restarts, crash tests); the
pytest plugin in `kajitori.testing.fixtures` offers the `kajitori_kubeconfig` fixture.
"""

from kajitori.testing.harness import Cluster, cluster, running

__all__ = ["Cluster", "cluster", "running"]
