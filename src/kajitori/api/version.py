"""The one version Kajitori reports: which upstream release it serves, and its build's name.

Upstream's components all report the version of the build they come from
(`k8s.io/component-base/version.Get()`): the apiserver's `/version` `gitVersion` and each
kubelet's `nodeInfo.kubeletVersion`, so `kubectl version` and the VERSION column of
`kubectl get nodes` agree. Kajitori's server and kubelets (real and simulated) are one build,
named as a distribution names its builds (k3s reports `v1.33.5+k3s1` in both places): the
upstream release with `+kajitori` as semver build metadata, which kubectl's version skew
checks ignore.
"""

from __future__ import annotations

KUBERNETES_VERSION = "v1.33.5"
"""The upstream release whose API and behaviour Kajitori serves (also the OpenAPI documents'
`info.version`)."""
GIT_VERSION = f"{KUBERNETES_VERSION}+kajitori"
"""What the apiserver (`/version` gitVersion) and every kubelet (`kubeletVersion`) report."""
MAJOR, MINOR = KUBERNETES_VERSION.removeprefix("v").split(".")[:2]
"""`/version`'s major and minor, as strings."""
