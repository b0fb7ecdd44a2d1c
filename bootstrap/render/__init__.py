"""What kubehaus writes on nodes, rendered from the inventory and the discovered topology (pure)."""
