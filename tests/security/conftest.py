"""The web fixtures (tests/web/conftest.py) for the security tests: the real app on a real database."""

from tests.web.conftest import app, client, store, web_settings, world  # noqa: F401 - fixtures
