"""Drop-in files kubehaus owns on a node: containerd, kernel modules, sysctls (pure).

Every file lives in a directory the software reads drop-ins from, under a name kubehaus owns, so
a re-run rewrites only its own files and never what others added (the opposite of rewriting
containerd's config.toml wholesale, Kubespray issue #12277).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..inventory.versions import Version

CONTAINERD_DROP_IN = "/etc/containerd/conf.d/50-kubehaus.toml"
MODULES_DROP_IN = "/etc/modules-load.d/50-kubehaus.conf"
SYSCTL_DROP_IN = "/etc/sysctl.d/50-kubehaus.conf"
MODPROBE_DROP_IN = "/etc/modprobe.d/50-kubehaus-rdma.conf"
CDI_SPEC_DIRS = ("/etc/cdi", "/var/run/cdi")
NRI_SOCKET = "/var/run/nri/nri.sock"


@dataclass(frozen=True)
class NodeFile:
    path: str
    content: str
    mode: int = 0o644


def containerd_drop_in(containerd_version: str) -> NodeFile:
    """systemd cgroups for runc, CDI (the DRA driver's devices) and NRI (Dranet) enabled.

    containerd 2.x reads config version 3 with the CRI runtime plugin split out; 1.7 reads
    version 2 with everything under the grpc CRI plugin.
    """
    cdi_dirs = ", ".join(f"'{d}'" for d in CDI_SPEC_DIRS)
    if Version(containerd_version).parts[0] >= 2:
        cri = "plugins.'io.containerd.cri.v1.runtime'"
        content = (
            "version = 3\n\n"
            f"[{cri}]\n  enable_cdi = true\n  cdi_spec_dirs = [{cdi_dirs}]\n\n"
            f"[{cri}.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n\n"
        )
    else:
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        content = (
            "version = 2\n\n"
            f"[{cri}]\n  enable_cdi = true\n  cdi_spec_dirs = [{cdi_dirs}]\n\n"
            f"[{cri}.containerd.runtimes.runc.options]\n  SystemdCgroup = true\n\n"
        )
    nri = (
        "plugins.'io.containerd.nri.v1.nri'"
        if Version(containerd_version).parts[0] >= 2
        else 'plugins."io.containerd.nri.v1.nri"'
    )
    content += f"[{nri}]\n  disable = false\n  socket_path = '{NRI_SOCKET}'\n"
    return NodeFile(CONTAINERD_DROP_IN, "# Managed by kubehaus: rewritten on every apply.\n" + content)


def kernel_modules(rdma: bool) -> NodeFile:
    """Modules to load at boot; on RDMA nodes also the verbs and connection-manager modules Dranet needs."""
    modules = ["overlay", "br_netfilter"] + (["ib_uverbs", "rdma_cm", "mlx5_ib"] if rdma else [])
    return NodeFile(MODULES_DROP_IN, "# Managed by kubehaus.\n" + "".join(f"{m}\n" for m in modules))


def sysctl_settings() -> dict[str, int]:
    return {
        "net.bridge.bridge-nf-call-iptables": 1,
        "net.bridge.bridge-nf-call-ip6tables": 1,
        "net.ipv4.ip_forward": 1,
        # one inotify instance per container runtime shim and per pod's watchers
        "fs.inotify.max_user_instances": 8192,
        "fs.inotify.max_user_watches": 524288,
    }


def sysctls() -> NodeFile:
    settings = sysctl_settings()
    return NodeFile(
        SYSCTL_DROP_IN, "# Managed by kubehaus.\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    )


def rdma_netns_exclusive() -> NodeFile:
    """Dranet moves RDMA devices into pods: the RDMA subsystem must be in exclusive netns mode
    before Dranet starts ('rdma system set netns exclusive', persisted as ib_core's option)."""
    return NodeFile(
        MODPROBE_DROP_IN,
        "# Managed by kubehaus: RDMA netns exclusive mode for Dranet.\noptions ib_core netns_mode=0\n",
    )


CONTAINERD_MAIN = "/etc/containerd/config.toml"
NOUVEAU_DROP_IN = "/etc/modprobe.d/50-kubehaus-nouveau.conf"


def containerd_main_config(containerd_version: str) -> NodeFile:
    """The smallest main config: it only imports the drop-in directory (where kubehaus writes)."""
    version = 3 if Version(containerd_version).parts[0] >= 2 else 2
    return NodeFile(
        CONTAINERD_MAIN,
        "# Written by kubehaus over the package's default; settings live in conf.d drop-ins.\n"
        f'version = {version}\nimports = ["/etc/containerd/conf.d/*.toml"]\n',
    )


def containerd_config_is_pristine(text: str) -> bool:
    """The containerd.io package's default config (CRI disabled, nothing else): safe to replace."""
    settings = [
        line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")
    ]
    return settings in ([], ['disabled_plugins = ["cri"]'])


def nouveau_blacklist() -> NodeFile:
    return NodeFile(
        NOUVEAU_DROP_IN,
        "# Managed by kubehaus: the NVIDIA driver needs nouveau off.\n"
        "blacklist nouveau\noptions nouveau modeset=0\n",
    )
