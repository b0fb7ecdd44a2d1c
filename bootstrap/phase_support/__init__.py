"""What the phases share and that is not a phase: node roles, node maintenance, probe and judge,
the reads that ride along in discovery, the cluster's member list, the artifacts fetched before
planning. No module here imports a phase; phases import from here, never from each other."""
