"""The ledger's world (tests.ledger.conftest): the tree, an officer of each kind, signed-in clients of the real app."""

from tests.ledger.conftest import app, csrf_of, sign_in, world  # noqa: F401
