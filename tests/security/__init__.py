"""Security and abuse hardening (issue 14)."""
