"""Property: no inventory value adds a line, a directive, a document or an argument to anything
kubehaus generates from it (issue 17).

Hypothesis fills every free-form field with the nastiest text its type admits: spaces, quotes,
'#', ':', '$(...)', ';', '{', unicode. Then every generated artifact is read back by the parser
its consumer uses and compared with what was meant: the ssh_config (paramiko), the deb822 apt
source, the Ansible ssh argument list (shlex, as Ansible splits it) and the hooks' inventory YAML,
the kubeadm init/join and kubelet YAML, the KAI queue objects, the containerd TOML drop-in, and
the kubectl/helm command lines (shlex, as the node's shell splits them).
"""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path
from typing import Any

import paramiko
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from deploys.operations import node_metadata

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
    for command, taint in zip(commands[1:], taints, strict=True):
        words = shlex.split(command)
        assert len(words) == 8 and words[6].endswith(f":{taint['effect']}")
