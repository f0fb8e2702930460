"""The kubelet: runs the pods bound to this node in containerd, over CRI."""
