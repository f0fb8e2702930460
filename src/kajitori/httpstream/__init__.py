"""Streaming over upgraded HTTP connections, shared by the API server and the kubelet (upstream's
`k8s.io/apimachinery/pkg/util/httpstream` and `pkg/util/proxy`)."""
