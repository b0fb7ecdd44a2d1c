"""The health-token phase: tokens issued once per member, renewed from the stored expiry (no hosts).

The first control plane is a fake that answers kubectl's TokenRequest as ``kubectl create token
-o json`` prints it; the node write is captured at run_deploy, with the resource the node plan has.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bootstrap.health.node_token import TOKEN_LIFETIME, StoredToken
from bootstrap.membership import Membership, Standing
from bootstrap.phase_support.health_tokens import keep_token, stored_token
from bootstrap.phases import health_token
from bootstrap.plan.node import health_token_file
from bootstrap.runner import RunContext

from .test_cluster_read import FakeHost, context


class Issuing(FakeHost):
    """Answers every command with a new TokenRequest (a different token each time)."""

    def __init__(self) -> None:
        super().__init__([])

    def run_shell_command(self, command: str, **options: object) -> tuple[bool, object]:
        assert options.get("print_output") is False and options.get("print_input") is False
        expires = (datetime.now(UTC) + TOKEN_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = {"token": f"secret-{len(self.commands)}", "expirationTimestamp": expires}
        self.answers.append(json.dumps({"kind": "TokenRequest", "status": status}, indent=2).splitlines())
        return super().run_shell_command(command, **options)


@pytest.fixture
def members(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[RunContext, Issuing, list]:
    ctx = context(tmp_path)
    first = ctx.inventory.control_planes[0].name
    fake = Issuing()
    for host in ctx.inventory.hosts[:2]:
        record = ctx.hosts[host.name]
        record.connection = fake if host.name == first else object()  # type: ignore[assignment]
        standing = Standing.FIRST_CONTROL_PLANE if host.name == first else Standing.MEMBER
        record.membership = Membership(standing)
        record.plan = type("Plan", (), {"kubernetes": ()})()  # type: ignore[assignment]
    written: list[tuple[str, list[Any]]] = []

    def deploy(ctx: RunContext, phase: object, names: list[str], work: Any) -> None:
        for name in names:
            monkeypatch.setattr(health_token, "apply_resources", lambda res, n=name: written.append((n, res)))
            work(name)

    monkeypatch.setattr(health_token, "run_deploy", deploy)
    return ctx, fake, written


def test_each_member_gets_a_token_once(members: tuple[RunContext, Issuing, list]) -> None:
    ctx, fake, written = members
    names = [h.name for h in ctx.inventory.hosts[:2]]
    health_token.HealthTokenPhase().run(ctx)
    assert len(fake.commands) == 2
    assert all("create token kubehaus-health" in c and "--bound-object-kind Node" in c for c in fake.commands)
    kept = {n: stored_token(ctx.state_dir, n) for n in names}
    assert all(kept.values())
    assert written == [(n, [health_token_file(kept[n].token)]) for n in names]  # type: ignore[union-attr]
    assert [s["result"] for s in ctx.steps] == ["done", "done"]
    # a re-run with nothing changed issues nothing and writes nothing
    health_token.HealthTokenPhase().run(ctx)
    assert len(fake.commands) == 2 and len(written) == 2


def test_a_token_running_out_or_a_rejoined_node_is_renewed(members: tuple[RunContext, Issuing, list]) -> None:
    ctx, _fake, written = members
    first, second = (h.name for h in ctx.inventory.hosts[:2])
    soon = datetime.now(UTC) + timedelta(days=2)
    keep_token(ctx.state_dir, StoredToken(node=first, token="old", expires=soon))
    later = datetime.now(UTC) + TOKEN_LIFETIME
    keep_token(ctx.state_dir, StoredToken(node=second, token="old", expires=later))
    ctx.hosts[second].membership = Membership(Standing.JOINED)
    health_token.HealthTokenPhase().run(ctx)
    assert [n for n, _ in written] == [first, second]
    assert {stored_token(ctx.state_dir, n).token for n in (first, second)} != {"old"}  # type: ignore[union-attr]


def test_a_plan_issues_nothing_and_says_so(members: tuple[RunContext, Issuing, list]) -> None:
    ctx, fake, written = members
    ctx.options.dry_run = True
    health_token.HealthTokenPhase().run(ctx)
    assert fake.commands == [] and written == []
    first = ctx.inventory.control_planes[0].name
    assert ctx.hosts[first].changes == ["health-token: health check token"]
    # a plan before the cluster exists: the nodes that would join get theirs too
    second = ctx.inventory.hosts[1].name
    ctx.hosts[second].membership = Membership(Standing.WOULD_JOIN)
    ctx.hosts[second].changes = None
    health_token.HealthTokenPhase().run(ctx)
    assert fake.commands == [] and written == []
    assert ctx.hosts[second].changes == ["health-token: health check token"]


def test_a_failed_request_fails_the_node_without_the_answer(
    members: tuple[RunContext, Issuing, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, _fake, written = members
    monkeypatch.setattr(
        Issuing,
        "run_shell_command",
        lambda self, c, **o: (True, type("O", (), {"stdout_lines": ["secret-x"]})()),
    )
    health_token.HealthTokenPhase().run(ctx)
    failures = [r.failure for r in ctx.hosts.values() if r.failure is not None]
    assert len(failures) == 2 and written == []
    assert all(
        "cannot issue its health check token" in f.message and "secret" not in f.message for f in failures
    )


def test_reset_forgets_the_tokens_of_the_nodes_it_removed(
    members: tuple[RunContext, Issuing, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reset node's Node is deleted (its condition and taint with it) and its token is dead: apply's
    copy goes; resetting the first control plane ends the cluster, so every copy goes."""
    from bootstrap.phases import reset

    ctx, _fake, _written = members
    first, second = (h.name for h in ctx.inventory.hosts[:2])
    health_token.HealthTokenPhase().run(ctx)
    deleted: list[str] = []
    monkeypatch.setattr(reset, "remove_from_cluster", lambda _cp, name: deleted.append(name) or True)
    monkeypatch.setattr(reset, "run_deploy", lambda *_args: None)
    reset.ResetPhase([second]).run(ctx)
    assert deleted == [second]
    assert stored_token(ctx.state_dir, second) is None and stored_token(ctx.state_dir, first) is not None
    reset.ResetPhase([first]).run(ctx)
    assert stored_token(ctx.state_dir, first) is None


def test_the_addons_phase_applies_the_credential_objects_first(tmp_path: Path) -> None:
    """The ServiceAccount, RBAC and policy go through kubectl apply like every cluster object,
    before the add-ons (and so before the token phase asks for a token of that account)."""
    import yaml

    from bootstrap.health.credential import cluster_objects
    from bootstrap.phase_support.artifacts import addon_manifests
    from bootstrap.phases.addons import AddonsPhase, ManifestStep
    from bootstrap.plan import Artifacts

    ctx = context(tmp_path, dry_run=True)
    manifests = {m.url: b"kind: ConfigMap\n" for m in addon_manifests(ctx.inventory.spec)}
    ctx.artifacts = Artifacts({}, manifests=manifests)
    first = AddonsPhase()._steps(ctx)[0]
    assert isinstance(first, ManifestStep) and first.title == "health check credential"
    documents = list(yaml.safe_load_all(first.file.content))
    assert documents == cluster_objects(ctx.inventory.spec.cluster.kubernetes_version)
