"""Thin pyinfra deploys, one per node concern; the rendering they write lives in bootstrap/."""
