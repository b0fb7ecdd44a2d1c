"""Run Python on a node in one SSH command, with the modules it needs sent along (pure).

The node needs nothing but python3: the script and its modules (for the probe, the controller's
own installed ``pynvml.py``, never a vendored copy) travel compressed in the command's arguments,
chunked below the kernel's 128 KiB limit per argument, and are imported from memory.
"""

from __future__ import annotations

import base64
import json
import shlex
import zlib
from importlib import util
from pathlib import Path

CHUNK = 100_000  # bytes per argument; Linux refuses a single argument over 131072
NO_PYTHON_EXIT = 127
NO_PYTHON_MESSAGE = "python3 is not installed on this node"

_LOADER = (
    "import base64,json,sys,types,zlib\n"
    "d=json.loads(zlib.decompress(base64.b64decode(''.join(sys.argv[1:]))))\n"
    "for n,s in d['modules'].items():\n"
    " m=types.ModuleType(n);m.__file__='<kubehaus:'+n+'>';sys.modules[n]=m\n"
    " exec(compile(s,m.__file__,'exec'),m.__dict__)\n"
    "sys.argv=['kubehaus-remote'];g={'__name__':'__main__'};exec(compile(d['main'],'<kubehaus:main>','exec'),g)\n"
)


def module_source(name: str) -> str:
    """The source of an installed pure-Python module on the controller (e.g. pynvml)."""
    spec = util.find_spec(name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise RuntimeError(f"module {name!r} is not installed as a single .py file on this controller")
    return Path(spec.origin).read_text(encoding="utf-8")


def python_command(main: str, modules: dict[str, str] | None = None) -> str:
    """A shell command running ``main`` with ``modules`` importable; fails clearly without python3."""
    payload = json.dumps({"modules": modules or {}, "main": main}).encode()
    encoded = base64.b64encode(zlib.compress(payload, 9)).decode()
    chunks = [encoded[i : i + CHUNK] for i in range(0, len(encoded), CHUNK)] or [""]
    missing = (
        f"echo 'kubehaus: {NO_PYTHON_MESSAGE}; install it "
        "(apt-get install python3-minimal, or dnf install python3) and rerun' >&2"
    )
    return (
        f"command -v python3 >/dev/null 2>&1 || {{ {missing}; exit {NO_PYTHON_EXIT}; }}; "
        f"exec python3 -c {shlex.quote(_LOADER)} " + " ".join(chunks)
    )
