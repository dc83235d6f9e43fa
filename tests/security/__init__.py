"""Security tests: attacks on a served instance, each refused."""
