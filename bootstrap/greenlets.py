"""gevent must patch the standard library before pyinfra (or paramiko) is imported.

Unpatched, pyinfra's SSH connections run one after another and connecting is about 6x slower.
Import this module first wherever the engine starts.
"""

from gevent import monkey

if not monkey.is_module_patched("socket"):
    monkey.patch_all()
