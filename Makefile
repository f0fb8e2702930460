# Two set-up commands on a fresh machine: `make up` (a cluster) and `make test` (the tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: up test lint venv bench node-runtime

$(BIN)/kajitori: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/kajitori

venv: $(BIN)/kajitori

# What a real node runs on (Debian packages): containerd with runc and the CNI plugins, the
# netfilter tools, busybox and gcc for the built-in images; the registry, skopeo and htpasswd
# for the tests.
NODE_PACKAGES := containerd runc containernetworking-plugins iptables nftables conntrack \
	iproute2 busybox-static docker-registry skopeo jq gcc libc6-dev apache2-utils

# As root with apt, install the node runtime if it is missing; otherwise say what `up` will do.
node-runtime:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  if ! dpkg -s $(NODE_PACKAGES) >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends $(NODE_PACKAGES) >/dev/null; \
	  fi; \
	else \
	  echo "not root (or no apt-get): no node runtime; make up runs simulated nodes" \
	    "and the node tests skip"; \
	fi

# As root: the control plane and this machine as its node. Otherwise: simulated nodes
# (docs/simulated-nodes.md). UP_FLAGS adds flags of `kajitori up`.
up: venv node-runtime
	@if [ "$$(id -u)" = 0 ]; then $(BIN)/kajitori up $(UP_FLAGS); \
	else $(BIN)/kajitori up --sim-nodes 3 $(UP_FLAGS); fi

test: venv node-runtime
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/pytest -q

bench: venv
	for b in bench/bench_*.py; do $(BIN)/python $$b; done
