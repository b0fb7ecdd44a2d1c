"""Programs kubehaus installs on nodes (standard library only) and the list of what they ship."""
