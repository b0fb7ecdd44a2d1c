#!/usr/bin/env bash
# Installs what kubehaus and its tests need on a fresh Debian 12 machine, idempotently:
# system packages (as root) and a virtual environment in .venv with kubehaus installed.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(openssh-server openssh-client python3-venv gcc libc6-dev systemd-container debootstrap iproute2 gnupg dpkg-dev skopeo)

need_apt=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing system packages: ${need_apt[*]} (run as root, or install them)" >&2
    else
        echo "setup: installing ${need_apt[*]}"
        # Installing openssh-server must not start a system sshd: block service starts
        # for the install (only if nothing else already does).
        created_policy=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
            created_policy=1
        fi
        trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
echo "setup: kubehaus $(.venv/bin/kubehaus --version | cut -d' ' -f2) installed in .venv"
