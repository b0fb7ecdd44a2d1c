"""Property: no inventory value adds a line, a directive, a document or an argument to anything
kubehaus generates from it (issue 17).

Hypothesis fills every free-form field with the nastiest text its type admits: spaces, quotes,
'#', ':', '$(...)', ';', '{', unicode. Then every generated artifact is read back by the parser
its consumer uses and compared with what was meant: the ssh_config (paramiko), the deb822 apt
source, the Ansible ssh argument list (shlex, as Ansible splits it) and the hooks' inventory YAML,
the kubeadm init/join and kubelet YAML, the KAI queue objects, the containerd TOML drop-in, and
the kubectl label and taint command lines (shlex, as the node's shell splits them).

The helm and node shell command lines are checked for any text at all, not only what validation
admits: each operation and fact that builds one (helm upgrade, apt-get, apt-mark, modprobe, sysctl,
systemctl, kubeadm, kubectl apply, dpkg-query, the upgrade's package check) is given arbitrary
strings, and the words and operators a POSIX shell reads must be those meant, each value one word.
"""

from __future__ import annotations

import shlex
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import patch

import paramiko
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyinfra.facts.server import Command

from bootstrap.connection import connection_plan
from bootstrap.hooks.ansible_inventory import ansible_inventory, ssh_common_args
from bootstrap.inventory.inventory import Inventory
from bootstrap.inventory.models import InventorySpec
from bootstrap.plan.node import kubelet_drop_in
from bootstrap.render import addons
from bootstrap.render.kubeadm import kubeadm_init_config, kubeadm_join_config
from bootstrap.render.kubelet import render_kubelet_config
from bootstrap.render.labels import node_labels, node_taints
from bootstrap.render.node_files import containerd_drop_in
from bootstrap.render.sources import sources_file
from bootstrap.topology.model import Cpu, NumaNode, Topology
from deploys import operations
from deploys.facts import DebPackages, HelmRelease, ManifestPending, MissingModules, PathsPresent, Sysctls
from deploys.operations import node_metadata
from deploys.upgrade import availability_command

NASTY = st.characters(
    blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"
) | st.sampled_from(list(" '#:;$(){}[]&|<>*!`=,-"))
# what each type admits, at its nastiest
free_text = st.text(NASTY, max_size=30)
ssh_path = st.text(NASTY.filter(lambda c: c not in '"%\\~'), min_size=1, max_size=30).map(lambda s: "/" + s)
user = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,15}", fullmatch=True)
word = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,10}[A-Za-z0-9])?", fullmatch=True)
option = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
label_value = st.from_regex(r"([A-Za-z0-9]([A-Za-z0-9_.-]{0,10}[A-Za-z0-9])?)?", fullmatch=True)


@st.composite
def inventories(draw: st.DrawFn) -> tuple[Inventory, dict[str, Any]]:
    level = draw(word)
    meant = {
        "user": draw(user),
        "bastion_user": draw(user),
        "known_hosts": draw(ssh_path),
        "private_key": draw(ssh_path),
        "state_dir": draw(ssh_path),
        "description": draw(free_text),
        "gpu_model": draw(free_text),
        "display_name": draw(free_text),
        "option": draw(option),
        "option_value": draw(word),
        "level": level,
        "rack": draw(label_value),
        "label": draw(label_value),
        "profile": draw(word),
    }
    spec = InventorySpec.model_validate(
        {
            "cluster": {"name": "c1", "state_dir": meant["state_dir"]},
            "ssh": {
                "user": meant["user"],
                "known_hosts": meant["known_hosts"],
                "private_key": meant["private_key"],
                "bastion": f"{meant['bastion_user']}@198.18.0.3:2222",
            },
            "artifacts": {"source": "mirror", "mirror_url": "http://198.18.0.1:8080/m"},
            "profiles": {
                meant["profile"]: {
                    "description": meant["description"],
                    "gpus": {"model": meant["gpu_model"]},
                    "kubelet": {"cpu_manager_policy_options": {meant["option"]: meant["option_value"]}},
                }
            },
            "addons": {
                "kai_scheduler": {
                    "queues": [{"name": "root-q", "display_name": meant["display_name"]}],
                    "topology": {"levels": [level]},
                }
            },
            "hosts": [
                {"name": "cp", "address": "198.18.0.2", "roles": ["control-plane"]},
                {
                    "name": "w1",
                    "address": "198.18.0.4",
                    "profile": meant["profile"],
                    "labels": {"team": meant["label"]},
                    "topology": {level: meant["rack"]},
                    "taints": [
                        f"example.com/t={meant['label']}:NoSchedule" if meant["label"] else "t:NoSchedule"
                    ],
                },
            ],
        }
    )
    return Inventory(spec, Path("/srv/site/inv.yaml"), Path("/srv/site")), meant


def _topology() -> Topology:
    numa = [NumaNode(id=n, cpus=f"{4 * n}-{4 * n + 3}", memory_kib=1 << 22) for n in range(2)]
    return Topology(
        hostname="w1", kernel="k", os_name="o", cpu=Cpu(model="m", sockets=1, cores=8, threads=8), numa=numa
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inventories())
def test_no_inventory_value_changes_the_shape_of_a_generated_file(case: tuple[Inventory, dict]) -> None:
    inventory, meant = case
    worker = inventory.host("w1")

    # ssh_config, as paramiko (pyinfra's reader) parses it
    plan = connection_plan(
        inventory, inventory.hosts, known_hosts=inventory.known_hosts, trust_new_host_keys=False,
        ssh_config_path=inventory.state_dir / "ssh_config",
    )  # fmt: skip
    config = paramiko.SSHConfig.from_text(plan.ssh_config or "")
    bastion = config.lookup("198.18.0.3")
    assert {k: v for k, v in bastion.items() if k != "hostname"} == {
        "user": meant["bastion_user"],
        "port": "2222",
        "userknownhostsfile": str(inventory.known_hosts),
        "stricthostkeychecking": "yes",
        "identityfile": [str(inventory.resolve(meant["private_key"]))],
    }
    for address in ("198.18.0.2", "198.18.0.4"):
        assert set(config.lookup(address)) == {"hostname", "proxyjump"}
    assert len((plan.ssh_config or "").splitlines()) == 12  # the bastion's 6 lines, 2 jumps of 2, blanks

    # deb822 apt source: five fields per stanza, nothing else
    fields = [ln.split(":", 1)[0] for ln in sources_file(inventory.spec).splitlines() if ln and ln[0] != "#"]
    assert fields == ["Types", "URIs", "Suites", "Components", "Signed-By"]

    # Ansible: the argument list survives Ansible's shlex split; the inventory YAML round-trips
    hooks_inventory = ansible_inventory(inventory, inventory.hosts, {}, {})
    assert yaml.safe_load(yaml.safe_dump(hooks_inventory)) == hooks_inventory
    args = hooks_inventory["all"]["hosts"]["w1"]["ansible_ssh_common_args"]
    bastion_text = f"{meant['bastion_user']}@198.18.0.3:2222"
    assert shlex.split(args) == ssh_common_args(str(inventory.known_hosts), 10, bastion_text)

    # kubeadm and kubelet YAML: the same documents come back, no more
    init = kubeadm_init_config(inventory)
    join = kubeadm_join_config(inventory, worker, "abcdef.0123456789abcdef", "sha256:" + "0" * 64, None, [])
    for documents in (init, join):
        text = yaml.safe_dump_all(documents, sort_keys=False)
        assert list(yaml.safe_load_all(text)) == documents
    kubelet = render_kubelet_config(inventory.kubelet_of(worker), _topology())
    drop_in = kubelet_drop_in(kubelet)
    assert yaml.safe_load(drop_in.content) == kubelet
    assert kubelet["cpuManagerPolicyOptions"] == {meant["option"]: meant["option_value"]}

    # KAI objects: display names stay one value
    queues = addons.kai_queues(inventory.spec.addons.kai_scheduler)
    text = yaml.safe_dump_all(queues, sort_keys=False)
    assert list(yaml.safe_load_all(text)) == queues
    shown_names = [q["spec"].get("displayName") for q in queues]
    assert not meant["display_name"] or meant["display_name"] in shown_names

    # containerd's TOML drop-in carries only the (validated) version
    toml = tomllib.loads(containerd_drop_in(inventory.spec.versions.containerd).content)
    assert set(toml) <= {"version", "plugins"}

    # kubectl command lines: each label and taint is one argument
    labels = node_labels(worker, None)
    taints = node_taints(worker, None)
    current = {"metadata": {"labels": {}}, "spec": {}}
    commands = list(node_metadata._inner("w1", current, labels, taints, [], "/etc/kubernetes/admin.conf"))
    label_words = shlex.split(commands[0])
    assert label_words[:6] == ["kubectl", "--kubeconfig", "/etc/kubernetes/admin.conf", "label", "node", "w1"]
    assert label_words[6:-1] == [f"{k}={v}" for k, v in sorted(labels.items())]
    assert shlex.split(commands[-1])[3:6] == ["annotate", "node", "w1"]  # the record of kubehaus's labels
    for command, taint in zip(commands[1:-1], taints, strict=True):
        words = shlex.split(command)
        assert len(words) == 8 and words[6].endswith(f":{taint['effect']}")


# --- command lines: every value one word, whatever it holds --------------------------------------

# anything a string can hold but NUL (no argv can carry one): the operations quote, they do not filter
ANY_WORD = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=20)
APT_WORDS = shlex.split(operations.APT)


def shell_words(command: str) -> list[str]:
    """What a POSIX shell makes of a command line: words, with unquoted operators as their own tokens.

    An unquoted newline (a command separator) stays inside a word, so it shows as a changed word.
    ``#`` is a word character here (the commands use it inside words, ``${pv#*=}``); a comment that
    an unquoted ``#`` would start at a word's start is not seen, but shlex.quote quotes every ``#``."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.whitespace = " \t"
    lexer.commenters = ""
    return list(lexer)


class FakeHost:
    """pyinfra's ``host`` for an operation's body: each fact answers what the test gives it."""

    def __init__(self, facts: dict[type, Any]) -> None:
        self.facts = facts

    def get_fact(self, fact: type, **_arguments: Any) -> Any:
        return self.facts[fact]


def commands_of(operation: Any, facts: dict[type, Any], **arguments: Any) -> list[str]:
    with patch.object(operations, "host", FakeHost(facts)):
        return list(operation._inner(**arguments))


def assert_same_shape(build: Callable[[dict[str, str]], list[str]], values: dict[str, str]) -> None:
    """The command lines built from ``values`` split into exactly the words of those built from plain
    marker words, each marker replaced by its value: no value adds, removes or joins a word."""
    marks = {name: f"KHMARK{index}X" for index, name in enumerate(values)}
    templates = [shell_words(c) for c in build(marks)]
    assert all(any(m in w for t in templates for w in t) for m in marks.values()), templates

    def filled(word: str) -> str:
        for name, mark in marks.items():
            word = word.replace(mark, values[name])
        return word

    assert [shell_words(c) for c in build(values)] == [[filled(w) for w in t] for t in templates]


@settings(max_examples=300, deadline=None)
@given(
    release=ANY_WORD, namespace=ANY_WORD, chart=ANY_WORD, version=ANY_WORD, reference=ANY_WORD,
    values_path=ANY_WORD, kubeconfig=ANY_WORD, repo=st.none() | ANY_WORD,
)  # fmt: skip
def test_no_value_adds_an_argument_to_a_helm_command_line(
    release: str, namespace: str, chart: str, version: str, reference: str,
    values_path: str, kubeconfig: str, repo: str | None,
) -> None:  # fmt: skip
    crds, command = commands_of(
        operations.helm_release, {HelmRelease: None}, release=release, namespace=namespace, chart=chart,
        version=version, reference=reference, values_path=values_path, values={"a": 1},
        kubeconfig=kubeconfig, repo=repo,
    )  # fmt: skip
    repo_words = ["--repo", repo] if repo else []
    # the chart's CRDs first: the same words whatever the values (a shell compound, split as one)
    assert_same_shape(
        lambda v: commands_of(
            operations.helm_release, {HelmRelease: None}, release="r", namespace="n", chart="c",
            version=v["version"], reference=v["reference"], values_path="p", values={}, kubeconfig=v["kc"],
            repo=v["repo"],
        )[:1],
        {"version": version, "reference": reference, "kc": kubeconfig, "repo": repo or "r"},
    )  # fmt: skip
    assert "apply --server-side --force-conflicts --field-manager=kubehaus -f -" in crds
    assert shell_words(command) == [
        "helm", "--kubeconfig", kubeconfig, "upgrade", "--install", release, reference, *repo_words,
        "--version", version, "-n", namespace, "--create-namespace", "-f", values_path,
    ]  # fmt: skip
    # and the fact that decides whether to run it (helm list; helm get values)
    assert_same_shape(
        lambda v: [HelmRelease().command(release=v["release"], namespace=v["namespace"], kubeconfig=v["kc"])],
        {"release": release, "namespace": namespace, "kc": kubeconfig},
    )


@settings(max_examples=300, deadline=None)
@given(
    pins=st.dictionaries(ANY_WORD.filter(bool), ANY_WORD, min_size=1, max_size=3),
    path=ANY_WORD, other=ANY_WORD, kubeconfig=ANY_WORD, key=ANY_WORD, value=ANY_WORD,
)  # fmt: skip
def test_no_value_adds_an_argument_to_a_node_shell_command(
    pins: dict[str, str], path: str, other: str, kubeconfig: str, key: str, value: str
) -> None:
    names = sorted(pins)
    install, hold = commands_of(operations.pinned_packages, {DebPackages: {}}, pins=pins)
    assert shell_words(install) == APT_WORDS + [f"{n}={pins[n]}-*" for n in names]
    assert shell_words(hold) == ["apt-mark", "hold", *names]
    (present,) = commands_of(operations.packages_present, {DebPackages: {}}, names=names)
    assert shell_words(present) == APT_WORDS + names
    unhold, purge = commands_of(operations.packages_absent, {DebPackages: dict.fromkeys(names)}, names=names)
    assert shell_words(unhold) == ["apt-mark", "unhold", *names, ">", "/dev/null"]
    assert shell_words(purge) == [
        "DEBIAN_FRONTEND=noninteractive", "apt-get", "purge", "-y", "-q",
        "-o", f"DPkg::Lock::Timeout={operations.APT_LOCK_WAIT_SECONDS}", *names,
    ]  # fmt: skip
    loaded = commands_of(operations.modules_loaded, {MissingModules: names}, names=names)
    assert [shell_words(c) for c in loaded] == [["modprobe", n] for n in names]
    (sysctl,) = commands_of(operations.sysctls_set, {Sysctls: {}}, settings={key: value})
    assert shell_words(sysctl) == ["sysctl", "-q", "-w", f"{key}={value}"]
    (mask,) = commands_of(operations.unit_masked, {Command: "enabled"}, unit=other)
    assert shell_words(mask) == ["systemctl", "mask", other]
    (applied,) = commands_of(
        operations.manifest_applied, {ManifestPending: ["x"]}, path=path, kubeconfig=kubeconfig
    )
    assert shell_words(applied) == ["kubectl", "--kubeconfig", kubeconfig, "apply", "-f", path]
    (init,) = commands_of(operations.kubeadm_init, {PathsPresent: []}, config_path=path, upload_certs=True)
    assert shell_words(init) == ["kubeadm", "init", "--config", path, "--skip-token-print", "--upload-certs"]
    # compound lines (';', '&&', '||', loops): the same words and operators as with plain values
    one, two = {"path": path}, {"path": path, "other": other}
    assert_same_shape(
        lambda v: commands_of(operations.kubeadm_join, {PathsPresent: []}, config_path=v["path"]), one
    )
    assert_same_shape(
        lambda v: commands_of(
            operations.apt_update, {PathsPresent: []}, sources_changed=True, marker=v["path"]
        ),
        one,
    )
    assert_same_shape(lambda v: [PathsPresent().command(paths=[v["path"], v["other"]])], two)
    assert_same_shape(
        lambda v: [ManifestPending().command(path=[v["path"], v["other"]], kubeconfig=v["kubeconfig"])],
        {**two, "kubeconfig": kubeconfig},
    )
    assert_same_shape(lambda v: [DebPackages().command(names=[v["path"], v["other"]])], two)
    pin_values = {"name": names[0], "version": pins[names[0]]}
    assert_same_shape(lambda v: [availability_command({v["name"]: v["version"]}, refresh=True)], pin_values)
