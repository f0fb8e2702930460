"""Real clusters for tests: `kajitori.testing.cluster` and the pytest fixtures."""
