"""Node topology: what a node's GPUs, NICs, NUMA nodes and links look like (pure)."""
