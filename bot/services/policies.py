"""Which policy profile a county follows: a shipped one by id, or the county's own, kept in the database.

``policy use /path/my-county.yaml`` reads the file once, validates it and stores its text
(``PolicyDocument``) under the profile's id; ``OrgUnit.policy_profile`` names that id. Every later
reader — the scheduler's ticks, the yearly cycle, the compliance scores — asks ``county_profile`` /
``profile_by_id`` and finds the same text on any host, whether or not the file still exists.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlmodel import Session, select

from bot.clock import utcnow
from bot.i18n import N_, UserError
from bot.policy.loading import is_shipped, load, load_text
from bot.policy.profile import Profile
from bot.policy.validate import ProfileError
from bot.services import audit
from bot.storage.models import OrgUnit
from bot.storage.models_schedule import PolicyDocument

MSG_SHADOWS = N_("The profile id “{id}” is already used by a shipped profile; give your profile another id.")
MSG_UNKNOWN = N_("No profile “{id}” is known: neither shipped nor stored for a county.")


class PolicyError(UserError):
    """A profile could not be chosen; the message says why."""


def profile_by_id(session: Session, profile_id: str) -> Profile:
    """Return the profile with this id: a shipped one, or one stored by ``use``."""
    if is_shipped(profile_id):
        return load(profile_id)
    doc = session.exec(select(PolicyDocument).where(PolicyDocument.profile_id == profile_id)).first()
    if doc is None:
        raise ProfileError(profile_id, "", MSG_UNKNOWN, id=profile_id)
    return load_text(doc.content, doc.source)


def county_profile(session: Session, county: OrgUnit) -> Profile | None:
    """Return the profile the county follows, or None when it has chosen none."""
    return profile_by_id(session, county.policy_profile) if county.policy_profile else None


def read(name_or_path: str) -> tuple[Profile, str | None]:
    """Load a shipped profile by id or a profile file by path; return it and, for a file, its text."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ProfileError(str(path), "", N_("Profile file not found."))
        content = path.read_text(encoding="utf-8")
        return load_text(content, str(path.resolve())), content
    return load(name_or_path), None


def use(session: Session, actor: audit.Actor, county: OrgUnit, name_or_path: str) -> Profile:
    """Make ``county`` follow a shipped profile or a profile file (whose text is stored); audited."""
    profile, content = read(name_or_path)
    before = {"policy_profile": county.policy_profile}
    after: dict[str, object] = {"policy_profile": profile.id}
    if content is not None:
        if is_shipped(profile.id):
            raise PolicyError(MSG_SHADOWS, id=profile.id)
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        doc = session.exec(select(PolicyDocument).where(PolicyDocument.profile_id == profile.id)).first()
        now = utcnow()
        if doc is None:
            doc = PolicyDocument(profile_id=profile.id, source=str(Path(name_or_path).resolve())[:500],
                                 content=content, sha256=digest, created_at=now, updated_at=now)
        else:
            before["document"] = doc.sha256
            doc.source, doc.content, doc.sha256, doc.updated_at = (
                str(Path(name_or_path).resolve())[:500], content, digest, now)
        session.add(doc)
        after.update(document=digest, source=doc.source)
    county.policy_profile = profile.id
    session.add(county)
    audit.record(session, actor, "policy.use", "org_unit", county.id, before, after)
    return profile
