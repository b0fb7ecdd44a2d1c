"""What a node must look like, stated once as declarative resources (pure: no I/O, no pyinfra).

``node_plan`` turns the inventory, a host, its discovered topology and the artifacts fetched before
planning into a :class:`NodePlan`. Everything else is derived from its resources: apply
(``deploys/node_apply.py`` maps each kind onto a small operation), the desired state the no-op
fast path compares with, the state query discovery runs, ``plan``'s diff and ``reset``'s lists.
The resource kinds are in ``resources.py``.
"""

from .desired import DesiredState, desired_state, file_state
from .managed import Managed, managed
from .node import Artifacts, NodePlan, node_plan

__all__ = [
    "Artifacts",
    "DesiredState",
    "Managed",
    "NodePlan",
    "desired_state",
    "file_state",
    "managed",
    "node_plan",
]
