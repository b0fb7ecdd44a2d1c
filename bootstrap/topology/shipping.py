"""Run Python on a node in one SSH command, with the modules it needs sent along (pure).

The node needs nothing but python3: the script and its modules (for the probe, the controller's
own installed ``pynvml.py``, never a vendored copy) travel compressed in the command's arguments,
chunked below the kernel's 128 KiB limit per argument, and are imported from memory (their compiled
code cached on the node, see CACHE_DIR).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
import zlib
from importlib import util
from pathlib import Path

CHUNK = 100_000  # bytes per argument; Linux refuses a single argument over 131072
NO_PYTHON_EXIT = 127
NO_PYTHON_MESSAGE = "python3 is not installed on this node"

CACHE_DIR = "/var/cache/kubehaus"
# Compiling a shipped module costs more than running it (pynvml: over a second of CPU per probe), so
# its code object, and the script's, is kept in CACHE_DIR, named by the source's digest and the
# Python version, and used only from a directory and file that the running user owns and nobody
# else can write. python3 runs with -S: the script needs only the standard library and what is
# shipped, and importing site costs every node a few milliseconds on every run.
_LOADER = (
    "import binascii,json,marshal,os,sys,types,zlib\n"
    "d=json.loads(zlib.decompress(binascii.a2b_base64(''.join(sys.argv[1:]))))\n"
    f"D=os.environ.get('KUBEHAUS_CACHE_DIR') or {CACHE_DIR!r}\n"
    "def mine(p):\n"
    " try:\n"
    "  s=os.stat(p);return s.st_uid==os.getuid() and not s.st_mode&0o022\n"
    " except OSError:\n"
    "  return False\n"
    "def code(n,s,h):\n"
    " p='%s/%s-%s.%s'%(D,n,h,sys.implementation.cache_tag)\n"
    " if mine(D) and mine(p):\n"
    "  try:\n"
    "   with open(p,'rb') as f:return marshal.load(f)\n"
    "  except Exception:\n"
    "   pass\n"
    " c=compile(s,'<kubehaus:'+n+'>','exec')\n"
    " try:\n"
    "  os.makedirs(D,mode=0o755,exist_ok=True)\n"
    "  if mine(D):\n"
    "   t='%s.%d'%(p,os.getpid())\n"
    "   with open(t,'wb') as f:marshal.dump(c,f)\n"
    "   os.replace(t,p)\n"
    " except OSError:\n"
    "  pass\n"
    " return c\n"
    "for n,s in d['modules'].items():\n"
    " m=types.ModuleType(n);m.__file__='<kubehaus:'+n+'>';sys.modules[n]=m\n"
    " exec(code(n,s,d['digests'][n]),m.__dict__)\n"
    "sys.argv=['kubehaus-remote'];g={'__name__':'__main__'};exec(code('__main__',d['main'],d['digests']['__main__']),g)\n"
)


def module_source(name: str) -> str:
    """The source of an installed pure-Python module on the controller (e.g. pynvml)."""
    spec = util.find_spec(name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise RuntimeError(f"module {name!r} is not installed as a single .py file on this controller")
    return Path(spec.origin).read_text(encoding="utf-8")


def python_command(main: str, modules: dict[str, str] | None = None) -> str:
    """A shell command running ``main`` with ``modules`` importable; fails clearly without python3."""
    modules = modules or {}
    sources = {**modules, "__main__": main}
    digests = {name: hashlib.sha256(source.encode()).hexdigest()[:32] for name, source in sources.items()}
    payload = json.dumps({"modules": modules, "digests": digests, "main": main}).encode()
    encoded = base64.b64encode(zlib.compress(payload, 9)).decode()
    chunks = [encoded[i : i + CHUNK] for i in range(0, len(encoded), CHUNK)] or [""]
    missing = (
        f"echo 'kubehaus: {NO_PYTHON_MESSAGE}; install it "
        "(apt-get install python3-minimal, or dnf install python3) and rerun' >&2"
    )
    return (
        f"command -v python3 >/dev/null 2>&1 || {{ {missing}; exit {NO_PYTHON_EXIT}; }}; "
        f"exec python3 -S -c {shlex.quote(_LOADER)} " + " ".join(chunks)
    )
