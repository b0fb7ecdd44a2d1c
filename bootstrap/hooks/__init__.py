"""Ansible playbook hooks: run a site's own playbooks at named points of apply, through ansible-runner."""
