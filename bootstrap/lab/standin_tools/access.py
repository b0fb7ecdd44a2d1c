"""Who may do what on the stand-in API server: ServiceAccount tokens, RBAC and admission policies.

What a real kube-apiserver does for a node-bound ServiceAccount token, as far as kubehaus's health
check uses one (docs/lab.md says what is left out):

- TokenRequest (``POST .../serviceaccounts/NAME/token``): the account must exist; a token bound to
  a Node needs that Node to exist (its uid, where given, must match). The token is random (not a
  JWT); the store keeps its user info: ``system:serviceaccount:NS:NAME``, its groups and, for a
  Node-bound token, the ``authentication.kubernetes.io/node-name`` and ``node-uid`` extras.
- Authentication: an expired token, or one whose bound Node is gone or was re-created (another
  uid), is refused with 401, as the real server refuses it.
- RBAC: ClusterRoles bound by ClusterRoleBindings, and Roles by RoleBindings in their namespace, to
  the account (by ServiceAccount subject, or the ``system:serviceaccounts`` groups); rules match on
  apiGroups, resources (``nodes/status`` names a subresource), verbs and resourceNames, ``*``
  included. Anything not granted is refused with 403 and the real server's message.
- ValidatingAdmissionPolicy with a binding (validationActions Deny): matchConstraints'
  resourceRules, matchConditions, variables and validations, evaluated with a real CEL
  implementation (cel-python, which the lab installs on the control plane as its own package,
  ``kubehaus-lab-cel``: bootstrap/lab/cel_package.py). Where it cannot be imported, every policy that matches
  fails, and failurePolicy Fail refuses the request (as an expression that does not compile does).
  Not evaluated: paramKind/params, namespaceSelector/objectSelector, auditAnnotations,
  messageExpression, the CEL cost budget, and the Kubernetes CEL libraries beyond standard CEL.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .apiserver import Store

CEL_SITES = "/usr/lib/kubehaus-standin/cel"  # the lab's kubehaus-lab-cel package (lab/cel_package.py)
NODE_NAME = "authentication.kubernetes.io/node-name"
NODE_UID = "authentication.kubernetes.io/node-uid"
MAX_TOKEN_SECONDS = 2**32  # the real server caps by --service-account-max-token-expiration; none here
MIN_TOKEN_SECONDS = 600  # the real server's minimum expirationSeconds
VERBS = {"GET": "get", "PUT": "update", "PATCH": "patch", "POST": "create", "DELETE": "delete"}
OPERATIONS = {"POST": "CREATE", "PUT": "UPDATE", "PATCH": "UPDATE", "DELETE": "DELETE"}


class Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _time(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def issue_token(store: Store, namespace: str, account: str, request: Any) -> dict[str, Any]:
    """Answer a TokenRequest for ``namespace/account``; the caller holds the lock and is an admin."""
    objects = store.state["objects"]
    if f"/ServiceAccount/{namespace}/{account}" not in objects:
        raise Refused(404, f'serviceaccounts "{account}" not found')
    spec = (request or {}).get("spec") or {}
    seconds = int(spec.get("expirationSeconds") or 3600)
    if seconds < MIN_TOKEN_SECONDS or seconds > MAX_TOKEN_SECONDS:
        raise Refused(422, f"spec.expirationSeconds: Invalid value: {seconds}: may not specify a duration "
                           f"less than {MIN_TOKEN_SECONDS} seconds")  # fmt: skip
    user: dict[str, Any] = {
        "user": f"system:serviceaccount:{namespace}:{account}",
        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
        "extra": {},
        "expires": time.time() + seconds,
    }
    bound = spec.get("boundObjectRef")
    if bound:
        kind, name = bound.get("kind"), bound.get("name", "")
        if kind != "Node":  # Pods and Secrets are bindable on a real server; kubehaus binds Nodes only
            raise Refused(
                422, f"spec.boundObjectRef.kind: Unsupported value: {kind!r} (the stand-in binds Nodes)"
            )
        node = objects.get(f"/Node//{name}")
        if node is None:
            raise Refused(404, f'nodes "{name}" not found')
        uid = node["metadata"]["uid"]
        if bound.get("uid") and bound["uid"] != uid:
            raise Refused(409, f'the UID in the bound object reference ({bound["uid"]}) does not match the '
                               f"UID in record. The object might have been deleted and then recreated")  # fmt: skip
        user["extra"] = {NODE_NAME: [name], NODE_UID: [uid]}
        user["bound_node"] = {"name": name, "uid": uid}
    token = secrets.token_urlsafe(32)
    store.state["credentials"][token] = user
    store.save()
    return {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "metadata": {"name": account, "namespace": namespace},
        "spec": {**spec, "expirationSeconds": seconds},
        "status": {"token": token, "expirationTimestamp": _time(user["expires"])},
    }


def authenticate(store: Store, token: str) -> dict[str, Any] | None:
    """The caller a bearer token stands for; None (401) for an unknown, expired or orphaned token."""
    caller = store.credential(token)
    if caller is None:
        return None
    if "expires" in caller and caller["expires"] < time.time():
        return None
    bound = caller.get("bound_node")
    if bound is not None:
        node = store.state["objects"].get(f"/Node//{bound['name']}")
        if node is None or node["metadata"].get("uid") != bound["uid"]:
            return None
    return caller


def _subjects_match(subjects: list[dict[str, Any]], caller: dict[str, Any], namespace: str | None) -> bool:
    user = caller.get("user", "")
    for subject in subjects or []:
        kind = subject.get("kind")
        if kind == "ServiceAccount":
            if user == f"system:serviceaccount:{subject.get('namespace') or namespace}:{subject.get('name')}":
                return True
        elif (kind == "User" and subject.get("name") == user) or (
            kind == "Group" and subject.get("name") in caller.get("groups", [])
        ):
            return True
    return False


def _rule_allows(rule: dict[str, Any], verb: str, group: str, resource: str, name: str | None) -> bool:
    def has(values: list[str] | None, wanted: str) -> bool:
        return bool(values) and ("*" in values or wanted in values)

    if not (has(rule.get("verbs"), verb) and has(rule.get("apiGroups"), group)):
        return False
    if not has(rule.get("resources"), resource):
        return False
    names = rule.get("resourceNames")
    return not names or (name is not None and name in names)


def authorize(
    store: Store,
    caller: dict[str, Any],
    verb: str,
    group: str,
    resource: str,
    namespace: str | None,
    name: str | None,
) -> None:
    """Raise Refused(403) unless an RBAC rule bound to the caller grants ``verb`` on ``resource``."""
    if caller.get("admin"):
        return
    objects = store.state["objects"]
    roles = {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
        for k, o in objects.items()
        if k.startswith(("rbac.authorization.k8s.io/ClusterRole/", "rbac.authorization.k8s.io/Role/"))
    }
    for key, binding in objects.items():
        if key.startswith("rbac.authorization.k8s.io/ClusterRoleBinding/"):
            scope = None
        elif key.startswith("rbac.authorization.k8s.io/RoleBinding/"):
            scope = binding["metadata"].get("namespace")
            if scope != namespace:
                continue
        else:
            continue
        if not _subjects_match(binding.get("subjects") or [], caller, scope):
            continue
        ref = binding.get("roleRef") or {}
        role_namespace = scope if ref.get("kind") == "Role" else ""
        role = roles.get((ref.get("kind"), role_namespace or "", ref.get("name")))
        if role and any(_rule_allows(r, verb, group, resource, name) for r in role.get("rules") or []):
            return
    base, _, sub = resource.partition("/")
    what = f'{base} "{name}"' if name else base
    scope_text = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    sub_text = f'resource "{base}/{sub}"' if sub else f'resource "{base}"'
    raise Refused(
        403,
        f'{what} is forbidden: User "{caller.get("user")}" cannot {verb} {sub_text} in API group '
        f'"{group}" {scope_text}',
    )


def _cel() -> Any:
    """cel-python: the lab's ``kubehaus-lab-cel`` package for this Python, else one importable."""
    site = f"{CEL_SITES}/py{sys.version_info.major}.{sys.version_info.minor}"
    if os.path.isdir(site) and site not in sys.path:
        sys.path.append(site)
    try:
        import celpy
    except ImportError:
        return None
    return celpy


def _rule_matches(rule: dict[str, Any], group: str, version: str, resource: str, operation: str) -> bool:
    def has(values: list[str] | None, wanted: str) -> bool:
        return bool(values) and ("*" in values or wanted in values)

    return (
        has(rule.get("apiGroups"), group)
        and has(rule.get("apiVersions"), version)
        and has(rule.get("operations"), operation)
        and has(rule.get("resources"), resource)
    )


def evaluate_policy(
    policy: dict[str, Any],
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    request: dict[str, Any],
) -> list[str]:
    """The policy's refusals of one request (empty: admitted), its CEL run with cel-python.

    Raises RuntimeError where the expressions cannot be evaluated (no cel-python, a compile or
    runtime error): with failurePolicy Fail the caller refuses the request.
    """
    celpy = _cel()
    if celpy is None:
        raise RuntimeError("no CEL evaluator (cel-python) in the stand-in API server")
    environment = celpy.Environment()
    spec = policy.get("spec") or {}

    def run(expression: str, context: dict[str, Any]) -> Any:
        try:
            return environment.program(environment.compile(expression)).evaluate(context)
        except Exception as exc:  # CELParseError, CELEvalError: the expression failed
            raise RuntimeError(f"expression {expression!r}: {exc}") from None

    context: dict[str, Any] = {
        "object": celpy.json_to_cel(new),
        "oldObject": celpy.json_to_cel(old),
        "request": celpy.json_to_cel(request),
    }
    for condition in spec.get("matchConditions") or []:
        if not run(condition["expression"], context):
            return []
    variables: dict[str, Any] = {}
    for variable in spec.get("variables") or []:
        variables[variable["name"]] = run(
            variable["expression"], {**context, "variables": celpy.celtypes.MapType(variables)}
        )
    context["variables"] = celpy.celtypes.MapType(variables)
    refused = []
    for validation in spec.get("validations") or []:
        result = run(validation["expression"], context)
        if not isinstance(result, celpy.celtypes.BoolType):
            raise RuntimeError(
                f"expression {validation['expression']!r} gave {type(result).__name__}, not bool"
            )
        if not result:
            refused.append(validation.get("message") or f"failed expression: {validation['expression']}")
    return refused


def admit(
    store: Store,
    caller: dict[str, Any],
    method: str,
    target: tuple[str, str, str],
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
) -> None:
    """Raise Refused(403) where a bound ValidatingAdmissionPolicy denies this write.

    ``target`` is (group, version, resource with its subresource, e.g. ``nodes/status``).
    """
    group, version, resource = target
    operation = OPERATIONS.get(method)
    if operation is None:
        return
    objects = store.state["objects"]
    prefix = "admissionregistration.k8s.io/"
    policies = {
        o["metadata"]["name"]: o
        for k, o in objects.items()
        if k.startswith(prefix + "ValidatingAdmissionPolicy/")
    }
    request = {
        "operation": operation,
        "userInfo": {
            "username": caller.get("user", ""),
            "groups": caller.get("groups", []),
            "extra": caller.get("extra", {}),
        },
    }
    for key, binding in sorted(objects.items()):
        if not key.startswith(prefix + "ValidatingAdmissionPolicyBinding/"):
            continue
        spec = binding.get("spec") or {}
        policy = policies.get(spec.get("policyName", ""))
        if policy is None or "Deny" not in (spec.get("validationActions") or []):
            continue
        rules = ((policy.get("spec") or {}).get("matchConstraints") or {}).get("resourceRules") or []
        if not any(_rule_matches(r, group, version, resource, operation) for r in rules):
            continue
        name, binding_name = policy["metadata"]["name"], binding["metadata"]["name"]
        try:
            refused = evaluate_policy(policy, old, new, request)
        except RuntimeError as exc:
            if (policy.get("spec") or {}).get("failurePolicy", "Fail") == "Ignore":
                continue
            raise Refused(
                403, f"policy '{name}' with binding '{binding_name}' denied request: {exc}"
            ) from None
        if refused:
            raise Refused(
                403,
                f"ValidatingAdmissionPolicy '{name}' with binding '{binding_name}' denied request: "
                f"{refused[0]}",
            )
