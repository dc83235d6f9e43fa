"""Scope: a table of role × scope × action; every cross-scope attempt is refused."""

import pytest
from sqlmodel import Session

from bot.services.access import PERMISSIONS, AccessDenied, require, require_asset, visible_assets
from tests.factories import make_asset, make_tree, make_user

# (role, scope attribute of the tree, action, target attribute, allowed)
CASES = [
    ("village_cadre", "village_a1", "report.fill", "village_a1", True),
    ("village_cadre", "village_a1", "report.fill", "village_a2", False),
    ("village_cadre", "village_a1", "report.fill", "village_b1", False),
    ("village_cadre", "village_a1", "report.fill", "village_x", False),
    ("village_cadre", "village_a1", "report.review", "village_a1", False),
    ("village_cadre", "village_a1", "asset.edit", "village_a1", False),
    ("village_supervisor", "village_a1", "report.sign_off", "village_a1", True),
    ("village_supervisor", "village_a1", "report.sign_off", "village_a2", False),
    ("village_supervisor", "village_a1", "report.fill", "village_a1", False),
    ("township_leader", "township_a", "report.review", "village_a1", True),
    ("township_leader", "township_a", "report.review", "village_a2", True),
    ("township_leader", "township_a", "report.review", "village_b1", False),
    ("township_leader", "township_a", "problem.handle", "village_x", False),
    ("township_leader", "township_a", "report.fill", "village_a1", False),
    ("township_leader", "township_a", "asset.import", "township_a", False),
    ("department_officer", "county", "targets.set", "village_b1", True),
    ("department_officer", "county", "targets.set", "village_x", False),
    ("department_officer", "county", "problem.handle", "village_a1", False),
    ("county_officer", "county", "problem.decide", "village_b1", True),
    ("county_officer", "county", "asset.import", "county", True),
    ("county_officer", "county", "asset.view", "village_x", False),
    ("county_officer", "county", "user.invite", "other_county", False),
    ("county_officer", "county", "report.fill", "village_a1", False),
    ("admin", "county", "audit.verify", "village_a1", True),
    ("admin", "county", "asset.edit", "village_x", False),
    ("admin", None, "asset.edit", "village_x", True),
]


@pytest.mark.parametrize("role,scope,action,target,allowed", CASES)
def test_it_allows_exactly_the_table(engine, role, scope, action, target, allowed):
    with Session(engine) as s:
        tree = make_tree(s)
        user = make_user(s, role, getattr(tree, scope) if scope else None)
        unit = getattr(tree, target)
        if allowed:
            require(s, user, action, unit)
        else:
            with pytest.raises(AccessDenied):
                require(s, user, action, unit)


def test_it_refuses_every_action_outside_the_role(sqlite_engine):
    with Session(sqlite_engine) as s:
        tree = make_tree(s)
        for role, allowed in PERMISSIONS.items():
            user = make_user(s, role, tree.county if role not in ("village_cadre", "village_supervisor",
                                                                  "township_leader") else tree.village_a1)
            for action in set().union(*PERMISSIONS.values()) - allowed:
                with pytest.raises(AccessDenied):
                    require(s, user, action, tree.village_a1)


def test_it_refuses_foreign_and_unknown_asset_ids_alike(engine):
    with Session(engine) as s:
        tree = make_tree(s)
        own = make_asset(s, tree.village_a1)
        foreign = make_asset(s, tree.village_a2)
        cadre = make_user(s, "village_cadre", tree.village_a1)
        assert require_asset(s, cadre, "report.fill", own.id).id == own.id
        for asset_id in (foreign.id, 999_999):
            with pytest.raises(AccessDenied) as exc:
                require_asset(s, cadre, "report.fill", asset_id)
            assert exc.value.msgid == "This is outside your area."


def test_it_lists_only_assets_in_scope(engine):
    with Session(engine) as s:
        tree = make_tree(s)
        a1, a2, b1, x = (make_asset(s, v) for v in (tree.village_a1, tree.village_a2, tree.village_b1,
                                                     tree.village_x))
        seen = [
            {a.id for a in s.exec(visible_assets(s, make_user(s, role, unit)))}
            for role, unit in [("village_cadre", tree.village_a1), ("township_leader", tree.township_a),
                               ("county_officer", tree.county), ("county_officer", tree.other_county)]
        ]
    assert seen == [{a1.id}, {a1.id, a2.id}, {a1.id, a2.id, b1.id}, {x.id}]


def test_it_refuses_inactive_users(sqlite_engine):
    with Session(sqlite_engine) as s:
        tree = make_tree(s)
        user = make_user(s, "village_cadre", tree.village_a1)
        user.active = False
        with pytest.raises(AccessDenied):
            require(s, user, "report.fill", tree.village_a1)
