"""End-to-end tests against a real Postfix (root only; see postfix_testbed.py)."""
