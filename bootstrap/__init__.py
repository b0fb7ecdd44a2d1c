"""kubehaus engine: inventory, phases and the runner that drives pyinfra."""

__version__ = "0.1.0"
