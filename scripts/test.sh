#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs everything, lints, runs pytest.
# Tests that need root (a loopback sshd) run when root and are skipped with a reason otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."

TEST_LABS=(khtest khapply khhooks khroll khresume khkill khpdb khdown khfail khorphan khair khmig khos khmend khwatch khserve)

BASETEMP="$(mktemp -d /tmp/kubehaus-tests.XXXXXX)"

cleanup() {
    # Fixtures tear down what they start; this catches whatever a killed run left:
    # loopback sshds and the test labs (machines, mounts, namespaces, veths, bridges).
    pkill -f "sshd -D -e -f .*/sshd/sshd_config" 2>/dev/null || true
    rm -rf "$BASETEMP"
    if [ -x .venv/bin/kubehaus ] && [ "$(id -u)" -eq 0 ]; then
        for lab in "${TEST_LABS[@]}"; do
            .venv/bin/kubehaus lab down --name "$lab" >/dev/null 2>&1 || true
        done
    fi
}
trap cleanup EXIT INT TERM

./scripts/setup.sh || exit 1

echo "== ruff"
.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || exit 1

echo "== pytest"
# Its own temp root: no sharing (or clean-up at exit) of pytest's numbered dirs with earlier runs,
# whose fixture sysfs trees are large.
.venv/bin/pytest -p no:cacheprovider --basetemp="$BASETEMP/pytest" "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests (exit 5): treated as failure, the suite must never be empty" >&2
    exit 1
fi
exit "$status"
