"""``kubehaus mirror build``: download everything ``mirror list`` names into a directory that is a
mirror (docs/mirror.md's layout), on a machine that reaches the upstreams.

- apt: a private apt root reads only the given sources (the inventory's upstream repositories and
  the node OS archive, each with its signed-by key, so apt checks every index's signature); apt's
  own resolver names the dependency closure (``apt-cache depends --recurse``, no recommends), and
  ``apt-get download --print-uris`` gives each package's URI and its SHA256 from those signed
  indexes. Each .deb is fetched to a ``.part`` file, its digest checked, then renamed: a file that
  does not match is refused, never kept.
- The pool is indexed (dpkg-scanpackages), ``Release`` signed with a GPG key generated in
  ``--gpg-home`` (kept outside DIR: the secret key is never served) or the one given.
- Charts: fetched from where the lock says they live (chart_fetch.py: OCI registries over the
  distribution API with the anonymous token flow, classic repositories through index.yaml), each
  checked against its manifest's or index's digest; ``--upstream HOST=URL`` points a host at a
  local upstream. Manifests: from their upstream URL (``--upstream`` applies), or from
  ``--files-from`` (a files area laid out as docs/mirror.md says).
- Images: ``skopeo copy`` each into its own OCI layout under ``images/<registry>/<repo>/<tag>``,
  from the upstream registry or from ``--images-from`` (a registry laid out as a kubehaus mirror:
  ``<host>/<upstream>/<repo>:<tag>``); every blob's sha256 is checked against its name.

``index.json`` records every file's sha256 and size. It says ``complete: true`` only when every
artifact is present and every digest verified, and is rewritten ``complete: false`` before any
work starts, so an interrupted build is never taken for a mirror. A re-run resumes: what is present
and verifies is kept, the rest fetched. ``verify_mirror`` re-hashes everything against the index.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import urllib.request
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

from .chart_fetch import ChartFetchError, fetch_chart, upstream_url
from .inventory import Inventory
from .os_support.systems import SUPPORTED
from .render.apt_closure import closure, parse_packages, pin_matches
from .render.artifacts import online_inventory, resolved_artifacts
from .render.build_sources import build_sources
from .render.mirror_list import MirrorList, mirror_list
from .render.sources import mirror_suite

SUITE, COMPONENT = "kubehaus", "main"
KEYRING = "kubehaus-archive-keyring.gpg"
INDEX = "index.json"


class BuildError(RuntimeError):
    """The build cannot go on: what failed and how to fix it."""


@dataclass
class BuildOptions:
    # one-line "deb [signed-by=...] URI SUITE COMPONENT" entries; empty: derived from the inventory
    # (render/build_sources.py: the OS archive and the node plan's upstream repositories)
    apt_sources: list[str]
    architecture: str = "amd64"
    files_from: str | None = None  # base URL of a files area (charts/, manifests/)
    images_from: str | None = None  # host[:port] of a registry laid out as a kubehaus mirror, or
    # oci:DIR, a tree of OCI layouts DIR/<registry>/<repo>/<tag> (an earlier build's images/)
    images_cert_dir: Path | None = None  # CA certificates (*.crt) for images_from
    gpg_home: Path | None = None  # default: <DIR>.gnupg beside DIR
    # registry/repository host -> base URL charts are fetched from instead (a local upstream)
    upstreams: dict[str, str] = field(default_factory=dict)
    upstream_ca: Path | None = None  # CA bundle for those URLs (default: the system's)
    os_name: str = "Debian 12"


@dataclass
class BuildReport:
    fetched: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # already present and verified (a resumed build)
    missing: list[str] = field(default_factory=list)  # what could not be had, and why
    complete: bool = False
    # fetched with no digest to check them against (charts and manifests: the lock carries none)
    unverified: list[str] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _run(command: list[str], cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    except OSError as exc:
        raise BuildError(f"cannot run {command[0]}: {exc.strerror} (install it on this machine)") from None
    if result.returncode != 0:
        raise BuildError(f"{command[0]} failed: {result.stderr.strip()[-800:]}")
    return result.stdout


def write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    part.write_bytes(data)
    os.replace(part, target)


def fetch_verified(url: str, target: Path, sha256: str | None, context: ssl.SSLContext | None = None) -> str:
    """``url`` to ``target`` through a .part file; refused (deleted) when ``sha256`` differs."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60, context=context) as response, part.open("wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise BuildError(f"cannot fetch {url}: {exc}") from None
    digest = sha256_file(part)
    if sha256 is not None and digest != sha256:
        part.unlink()
        raise BuildError(f"{url}: sha256 {digest} is not the signed index's {sha256}: refused")
    os.replace(part, target)
    return digest


# --- apt --------------------------------------------------------------------------------------


def _apt_options(root: Path) -> list[str]:
    settings = {
        "Dir::Etc::SourceList": root / "sources.list",
        "Dir::Etc::SourceParts": "/dev/null",
        "Dir::State::Lists": root / "lists",
        "Dir::Cache": root / "cache",
        "Dir::State::status": "/dev/null",
        "APT::Architecture": None,
        "APT::Sandbox::User": "root",
    }
    options = []
    for key, value in settings.items():
        if value is not None:
            options += ["-o", f"{key}={value}"]
    return options


def private_apt(root: Path, sources: list[str], architecture: str) -> list[str]:
    for sub in ("lists/partial", "cache/archives/partial"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "sources.list").write_text("".join(line + "\n" for line in sources))
    options = [*_apt_options(root), "-o", f"APT::Architecture={architecture}"]
    _run(["apt-get", *options, "update"])
    return options


def _candidate(options: list[str], name: str, upstream: str) -> str:
    """The archive version of ``name`` whose upstream part is the pin (any Debian revision)."""
    for line in _run(["apt-cache", *options, "madison", name]).splitlines():
        version = line.split("|")[1].strip()
        if pin_matches(version, upstream):
            return version
    raise BuildError(f"no source offers {name} at version {upstream} (pinned): check the apt sources")


def exact_versions(lists: Path, roots: list[str], pinned: dict[str, str]) -> dict[str, str]:
    """The versions the closure fixes (``pkg (= v)`` dependencies of the pinned versions, read from
    the signed indexes apt fetched; render/apt_closure.py's rules): apt-cache names the package,
    but ``apt-get download`` of a bare name gets the newest version, not the one the pin needs."""
    # apt keeps the indexes compressed as it likes (lz4 on Debian 12); apt-helper reads any of them
    indexes = sorted(p for p in lists.glob("*_Packages*") if p.is_file())
    stanzas = [
        stanza
        for index in indexes
        for stanza in parse_packages(_run(["/usr/lib/apt/apt-helper", "cat-file", str(index)]))
    ]
    found = closure(roots, stanzas, pinned)
    if found.conflicts:
        raise BuildError("the pinned packages' exact dependencies cannot hold: " + "; ".join(found.conflicts))
    return dict(found.exact)


def apt_uris(
    options: list[str], listed: MirrorList, os_name: str, lists: Path | None = None
) -> list[tuple[str, str, str]]:
    """(URI, file name, sha256) of every package in the closure, pins at their pinned version and
    their exact dependencies at the version they name (read from ``lists``, apt's index files)."""
    (packages,) = [p for p in listed.packages if p.os == os_name]
    if packages.error:
        raise BuildError(f"{os_name}: {packages.error}")
    roots = [f"{n}={_candidate(options, n, v)}" for n, v in packages.pinned.items()]
    # the pinned versions' dependencies, not the candidates' (a newer toolkit depends on a newer -base)
    depends = _run(
        ["apt-cache", *options, "depends", "--recurse", "--no-recommends", "--no-suggests",
         "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances",
         *roots, *packages.unpinned]
    )  # fmt: skip
    names = sorted(
        {
            line.strip()
            for line in depends.splitlines()
            if line and not line[0].isspace() and not line.startswith("<")
        }
        - set(packages.pinned)
    )
    exact = {} if lists is None else exact_versions(lists, [*packages.pinned, *names], packages.pinned)
    wanted = [f"{n}={exact[n]}" if n in exact else n for n in names]
    out = []
    printed = _run(["apt-get", *options, "download", "--print-uris", *roots, *wanted])
    for line in printed.splitlines():
        uri, filename, _size, checksum = line.split()
        if not checksum.startswith("SHA256:"):
            raise BuildError(f"{filename}: the index gives no SHA256 for it (got {checksum})")
        out.append((uri.strip("'"), filename, checksum.split(":", 1)[1]))
    return out


def derived_sources(inventory: Inventory, options: BuildOptions, keys: Path) -> list[str]:
    """One apt line per repository build_sources names for the build's OS: the OS archive with the
    distribution keyring installed here, each upstream repository with its key fetched from the
    URL the node plan fetches it from (over HTTPS; no fingerprint is carried to check it against,
    as on a node)."""
    lines = []
    for number, source in enumerate(build_sources(inventory.spec, options.os_name, options.architecture)):
        if source.key.startswith("/"):
            if not Path(source.key).is_file():
                raise BuildError(
                    f"{source.name}: its keyring {source.key} is not on this machine (install "
                    f"debian-archive-keyring or ubuntu-keyring), or give every source with --apt-source"
                )
            lines.append(source.line(source.key))
            continue
        keys.mkdir(parents=True, exist_ok=True)
        key = keys / f"{number}.key"
        fetch_verified(source.key, key, None)
        armored = key.read_bytes().lstrip().startswith(b"-----BEGIN PGP")
        keyring = key.rename(key.with_suffix(".asc" if armored else ".gpg"))  # apt reads both by name
        lines.append(source.line(str(keyring)))
    return lines


def _scan(apt: Path) -> str:
    return _run(["dpkg-scanpackages", "--multiversion", f"pool/{COMPONENT}", "/dev/null"], cwd=apt)


def _gpg(home: Path, *args: str) -> str:
    return _run(["gpg", "--homedir", str(home), "--batch", "--quiet", "--yes", *args])


def signing_key(home: Path, uid: str) -> str:
    """The fingerprint of the key in ``home``, generated (ed25519, signing only, no expiry) with
    this user id when it has none."""
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    listing = _gpg(home, "--list-secret-keys", "--with-colons")
    fingerprints = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]
    if fingerprints:
        return fingerprints[0]
    _gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
    return signing_key(home, uid)


def stop_agent(home: Path) -> None:
    """End the gpg-agent that key generation and signing started for ``home``: a build must not
    leave a daemon behind on the machine that ran it."""
    with contextlib.suppress(OSError):  # no gpgconf: no agent of ours either
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)


def suite_of(os_name: str) -> str:
    """The suite a node of this OS installs from (render/sources.py's mirror_suite): ``kubehaus``
    for Debian 12, ``kubehaus-<codename>`` for the other releases."""
    release = next((r for r in SUPPORTED if r.name == os_name), None)
    if release is None:
        return SUITE
    return mirror_suite(release.distro, release.version_id, release.codename)


def write_apt_indexes(apt: Path, home: Path, fingerprint: str, architecture: str, suite: str = SUITE) -> None:
    dists = apt / "dists" / suite
    binary = dists / COMPONENT / f"binary-{architecture}"
    binary.mkdir(parents=True, exist_ok=True)
    packages = _scan(apt)
    (binary / "Packages").write_text(packages)
    with gzip.open(binary / "Packages.gz", "wt") as handle:
        handle.write(packages)
    lines = [
        "Origin: kubehaus",
        "Label: kubehaus mirror",
        f"Suite: {suite}",
        f"Codename: {suite}",
        f"Date: {formatdate(usegmt=True)}",
        f"Architectures: {architecture}",
        f"Components: {COMPONENT}",
        "SHA256:",
    ]
    for path in sorted(binary.iterdir()):
        lines.append(f" {sha256_file(path)} {path.stat().st_size} {path.relative_to(dists)}")
    release = dists / "Release"
    release.write_text("\n".join(lines) + "\n")
    _gpg(home, "--local-user", fingerprint, "--clearsign", "--output", str(dists / "InRelease"), str(release))
    _gpg(home, "--local-user", fingerprint, "--armor", "--detach-sign", "--output",
         str(dists / "Release.gpg"), str(release))  # fmt: skip


# --- images -----------------------------------------------------------------------------------


def image_layout(root: Path, reference: str) -> Path:
    name, tag = reference.rsplit(":", 1)
    return root / "images" / name / tag


def verify_layout(layout: Path) -> str:
    """The layout's manifest digest, after checking every blob's sha256 is its name and that every
    blob the manifest names (config and layers) is there: a deleted layer is not a whole image."""
    blobs = layout / "blobs" / "sha256"
    try:
        index = json.loads((layout / "index.json").read_text())
        for blob in blobs.iterdir():
            if sha256_file(blob) != blob.name:
                raise BuildError(f"{blob}: its content does not match its digest: refused")
        (manifest,) = index["manifests"]
        digest = manifest["digest"]
        body = json.loads((blobs / digest.removeprefix("sha256:")).read_text())
        needed = [body["config"], *body["layers"]] if "config" in body else body.get("manifests", [])
        for item in needed:
            if not (blobs / item["digest"].removeprefix("sha256:")).is_file():
                raise BuildError(f"{layout}: blob {item['digest']} the manifest names is missing")
    except (KeyError, TypeError, ValueError) as exc:
        raise BuildError(f"{layout}: not an OCI layout kubehaus wrote ({exc!r})") from None
    return digest


def copy_image(root: Path, reference: str, options: BuildOptions) -> str:
    layout = image_layout(root, reference)
    origin = options.images_from
    if origin and origin.startswith("oci:"):  # another mirror's images/ tree (an earlier build)
        name, tag = reference.rsplit(":", 1)
        source = f"oci:{Path(origin[4:]) / name / tag}"
    else:
        source = f"docker://{origin}/{reference}" if origin else f"docker://{reference}"
    part = layout.with_name(layout.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    part.parent.mkdir(parents=True, exist_ok=True)
    arch = ["--override-os", "linux", "--override-arch", options.architecture]  # the nodes', not ours
    command = ["skopeo", "copy", "--retry-times", "2", *arch]
    if options.images_cert_dir is not None:
        command += ["--src-cert-dir", str(options.images_cert_dir)]
    _run([*command, source, f"oci:{part}"])
    digest = verify_layout(part)
    shutil.rmtree(layout, ignore_errors=True)
    os.replace(part, layout)
    return digest


# --- the build --------------------------------------------------------------------------------


def file_records(root: Path) -> dict[str, dict[str, object]]:
    return {
        str(p.relative_to(root)): {"sha256": sha256_file(p), "size": p.stat().st_size}
        for p in sorted(root.rglob("*"))
        if p.is_file() and p != root / INDEX and not p.name.endswith(".part")
    }


def _write_index(root: Path, content: dict[str, object]) -> None:
    part = root / (INDEX + ".part")
    part.write_text(json.dumps(content, indent=1, sort_keys=True))
    os.replace(part, root / INDEX)


def build_mirror(inventory: Inventory, root: Path, options: BuildOptions) -> BuildReport:
    root.mkdir(parents=True, exist_ok=True)
    previous = read_index(root)
    _write_index(root, {"complete": False, "files": previous.get("files", {}), "images": {}})
    known = previous.get("files", {})
    report = BuildReport()
    listed = mirror_list(inventory)
    work = root.parent / f".{root.name}.build"

    def have(relative: str, sha256: str | None) -> bool:
        path = root / relative
        if not path.is_file():
            return False
        digest = sha256_file(path)
        recorded = sha256 or known.get(relative, {}).get("sha256")
        if recorded is not None and digest == recorded:
            report.kept.append(relative)
            return True
        path.unlink()  # present but not what was signed or recorded: fetched again
        return False

    # apt: the given sources, or those of the node OS the inventory's node plan installs from
    sources = options.apt_sources or derived_sources(inventory, options, work / "keys")
    options_apt = private_apt(work / "apt", sources, options.architecture)
    apt = root / "apt"
    for uri, filename, sha256 in apt_uris(options_apt, listed, options.os_name, work / "apt" / "lists"):
        relative = f"apt/pool/{COMPONENT}/{filename}"
        if not have(relative, sha256):
            fetch_verified(uri, root / relative, sha256)
            report.fetched.append(relative)
    home = options.gpg_home or root.parent / f"{root.name}.gnupg"
    if home.resolve().is_relative_to(root.resolve()):
        raise BuildError(f"the signing key's home {home} is inside the mirror {root}: it would be served")
    try:
        fingerprint = signing_key(home, f"kubehaus mirror ({inventory.name}) <mirror@kubehaus.invalid>")
        write_apt_indexes(apt, home, fingerprint, options.architecture, suite_of(options.os_name))
    finally:
        stop_agent(home)
    exported = ["gpg", "--homedir", str(home), "--batch", "--export", fingerprint]
    key = subprocess.run(exported, capture_output=True)
    if key.returncode != 0 or not key.stdout:
        raise BuildError(f"gpg could not export the signing key {fingerprint}: {key.stderr.decode()[-400:]}")
    (root / KEYRING).write_bytes(key.stdout)

    # charts and manifests, under the names apply asks a mirror for. The lock carries no digests for
    # them yet: charts come from their upstream (chart_fetch.py: each layer checked against its OCI
    # manifest, or the package against index.yaml's digest) and manifests from their upstream URL (or
    # --files-from); both
    # are recorded (later tampering is caught) but were not checked against anything kubehaus knew
    # in advance, and the index says so.
    unverified: list[str] = list(previous.get("unverified_at_fetch", []))
    charts: dict[str, dict[str, str | None]] = dict(previous.get("charts", {}))
    ca = options.upstream_ca
    context = None if ca is None else ssl.create_default_context(cafile=str(ca))
    # where each chart lives upstream, as an online inventory would name it (the mirror's own
    # files area is what is being built)
    for artifact in resolved_artifacts(online_inventory(inventory)):
        if artifact.kind not in ("helm-chart", "manifest"):
            continue
        relative = mirror_file(artifact.kind, artifact.name, artifact.version or "")
        if have(relative, None):
            continue
        if artifact.kind == "helm-chart":
            try:
                chart = fetch_chart(artifact.location, artifact.version or "", options.upstreams, context)
            except ChartFetchError as exc:
                report.missing.append(f"{relative}: {exc}")
                continue
            write_atomic(root / relative, chart.data)
            charts[relative] = {"source": chart.source, "sha256": chart.sha256, "manifest": chart.manifest}
            report.fetched.append(relative)
            unverified.append(relative)
            continue
        # a files area when given; otherwise the manifest's upstream URL (an --upstream for its host
        # applies), which is where an online apply would fetch it from
        if options.files_from:
            url = f"{options.files_from.rstrip('/')}/{relative.removeprefix('files/')}"
            url_context = None
        else:
            url = upstream_url(artifact.location, options.upstreams)
            url_context = context
        try:
            fetch_verified(url, root / relative, None, url_context)
            report.fetched.append(relative)
            unverified.append(relative)
        except BuildError as exc:
            report.missing.append(f"{relative}: {exc}")

    # images
    images: dict[str, str] = {}
    for image in listed.images:
        layout = image_layout(root, image.reference)
        try:
            images[image.reference] = verify_layout(layout)
            report.kept.append(str(layout.relative_to(root)))
            continue
        except (BuildError, OSError, ValueError):
            shutil.rmtree(layout, ignore_errors=True)  # absent or not what it was: copied again
        try:
            images[image.reference] = copy_image(root, image.reference, options)
            report.fetched.append(str(layout.relative_to(root)))
        except BuildError as exc:
            shutil.rmtree(layout, ignore_errors=True)
            report.missing.append(f"{image.reference}: {exc}")
    report.missing += [f"{gap.what}: kubehaus carries no list ({gap.how})" for gap in listed.gaps]
    shutil.rmtree(work, ignore_errors=True)
    content = {
        "complete": not report.missing,
        "files": file_records(root),
        "images": images,
        "unverified_at_fetch": sorted(set(unverified)),
        "charts": {k: v for k, v in sorted(charts.items()) if (root / k).is_file()},
    }
    _write_index(root, content)
    if not report.missing and (problems := verify_mirror(root)):
        report.missing += problems
        _write_index(root, {**content, "complete": False})
    report.complete = not report.missing
    report.unverified = content["unverified_at_fetch"]
    return report


def push_images(root: Path, registry: str, cert_dir: Path | None = None) -> list[str]:
    """Copy every image of a verified mirror into a registry (Debian's docker-registry, say) at
    ``<registry>/<upstream name>``, where the nodes' hosts.toml looks; returns the references."""
    problems = verify_mirror(root)
    if problems:
        raise BuildError("the mirror does not verify: " + "; ".join(problems[:5]))
    pushed = []
    for reference in read_index(root)["images"]:
        command = ["skopeo", "copy"]
        if cert_dir is not None:
            command += ["--dest-cert-dir", str(cert_dir)]
        _run([*command, f"oci:{image_layout(root, reference)}", f"docker://{registry}/{reference}"])
        pushed.append(reference)
    return pushed


def mirror_file(kind: str, name: str, version: str) -> str:
    """Where a chart or manifest lives in a mirror (sources.py asks for these names)."""
    if kind == "helm-chart":
        return f"files/charts/{name}-{version}.tgz"
    if name == "dranet":
        return f"files/manifests/dranet-{version}-install.yaml"
    return f"files/manifests/{name}-{version}.yaml"


def read_index(root: Path) -> dict:
    path = root / INDEX
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError:
        return {}


def verify_mirror(root: Path) -> list[str]:
    """Every problem with a built mirror: incomplete, a file missing, changed or added, an image
    layout whose blobs do not match. Empty: the mirror is what its index says, in full."""
    index = read_index(root)
    problems = [] if index.get("complete") is True else [f"{root / INDEX}: the build is not complete"]
    recorded = index.get("files", {})
    images = index.get("images", {})
    if not isinstance(recorded, dict) or not isinstance(images, dict):
        return [*problems, f"{root / INDEX}: not an index kubehaus wrote"]
    present = file_records(root)
    for relative, record in recorded.items():
        if relative not in present:
            problems.append(f"{relative}: missing")
            continue
        wanted = record.get("sha256") if isinstance(record, dict) else None
        if wanted != present[relative]["sha256"]:
            problems.append(f"{relative}: sha256 {present[relative]['sha256']} is not {wanted}")
    problems += [f"{relative}: not in the index" for relative in present.keys() - recorded.keys()]
    for reference, digest in images.items():
        try:
            found = verify_layout(image_layout(root, reference))
        except (BuildError, OSError) as exc:
            problems.append(f"{reference}: {exc}")
            continue
        if found != digest:
            problems.append(f"{reference}: its layout's manifest is {found}, the index recorded {digest}")
    return problems
