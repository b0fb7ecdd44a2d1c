"""The health gate: pure rules from (Topology, expectations) to findings, and node verdicts."""
