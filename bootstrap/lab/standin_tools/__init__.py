"""The lab's stand-in Kubernetes tools: kubeadm, kubelet, kubectl, helm and a fake API server.

They run on lab machines (Debian 12's python3 with python3-yaml and python3-jsonschema, nothing
else) and imitate what kubehaus relies on, with state: a small API store on the first control
plane keeps nodes, labels, taints, cordon state, applied objects and Helm releases. Where the
real tools refuse bad input, these refuse it too: objects are validated against the real
Kubernetes OpenAPI schemas and installed CRDs, the kubelet checks its configuration, kubeadm
checks token and CA-hash formats. They never pretend to be the real software: every ``--version``
says "kubehaus lab stand-in". No TLS, no containers, no pods: see docs/lab.md for what the lab
cannot exercise.
"""
