"""Which operating systems kubehaus runs on, and what each one decides (pure).

facts: a node's OS facts parsed from /etc/os-release, /etc/dgx-release and dpkg's architecture.
systems: the supported systems as data, each fact with its source (docs/os-support.md).
packages: the NVIDIA driver and fabric-manager package names for a pinned branch.
support: a node's facts matched to a supported system, or refused with a message naming the host.
"""
