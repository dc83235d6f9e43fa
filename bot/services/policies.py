"""Which policy profile a county follows: a shipped one by id, or the county's own, kept in the database.

``policy use /path/my-county.yaml`` reads the file once, validates it and stores its text
(``PolicyDocument``) under the profile's id; ``OrgUnit.policy_profile`` names that id. Every later
reader — the scheduler's ticks, the yearly cycle, the compliance scores — asks ``county_profile`` /
``profile_by_id`` and finds the same text on any host, whether or not the file still exists.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from sqlmodel import Session, select

from bot.clock import utcnow
from bot.i18n import N_, UserError
from bot.policy.loading import is_shipped, load, load_text
from bot.policy.profile import Profile
from bot.policy.validate import ProfileError
from bot.services import access, audit
from bot.storage.models import OrgUnit, User
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
    source = str(Path(name_or_path).resolve())[:500] if content is not None else None
    return _adopt(session, actor, county, profile, content, source)


def _adopt(session: Session, actor: audit.Actor, county: OrgUnit, profile: Profile, content: str | None,
           source: str | None) -> Profile:
    """Store a profile's text (when it is the county's own) and make the county follow it; audited."""
    before = {"policy_profile": county.policy_profile}
    after: dict[str, object] = {"policy_profile": profile.id}
    if content is not None:
        if is_shipped(profile.id):
            raise PolicyError(MSG_SHADOWS, id=profile.id)
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        doc = session.exec(select(PolicyDocument).where(PolicyDocument.profile_id == profile.id)).first()
        now = utcnow()
        if doc is None:
            doc = PolicyDocument(profile_id=profile.id, source=source or "", content=content, sha256=digest,
                                 created_at=now, updated_at=now)
        else:
            before["document"] = doc.sha256
            doc.source, doc.content, doc.sha256, doc.updated_at = source or "", content, digest, now
        session.add(doc)
        after.update(document=digest, source=doc.source)
    county.policy_profile = profile.id
    session.add(county)
    audit.record(session, actor, "policy.use", "org_unit", county.id, before, after)
    return profile


# --- for a person (the web's policy page) ---------------------------------------------------------

MSG_OTHER_COUNTY = N_("The profile id “{id}” is already used by {county}; give your profile another id.")
MSG_NOT_OFFERED = N_("“{id}” is not one of the profiles you can choose.")
MSG_NOT_TEXT = N_("The file is not a text file in UTF-8. Save the profile as UTF-8 text (.yaml) and upload it again.")
MSG_EMPTY = N_("The file is empty. Choose your county's profile file (.yaml).")
MSG_TOO_LARGE = N_("The file is larger than {kb} kB; a profile is a short text file.")
MSG_NOT_COUNTY = N_("Choose a county.")
MSG_BAD_YAML = N_("The file is not valid YAML: check line {line}, column {column} (indentation, colons, quotes).")
MSG_BAD_YAML_SOMEWHERE = N_("The file is not valid YAML: check its indentation, colons and quotes.")
UPLOAD_MAX_BYTES = 256 * 1024


def _actor(user: User) -> audit.Actor:
    return audit.Actor(user.id, f"user:{user.id}")


def county_for(session: Session, user: User, county_id: int | None = None) -> OrgUnit:
    """Return the county whose policy ``user`` may choose: their own, or (an admin over several) the one asked."""
    from bot.services.orgs import county_of

    access.require(session, user, "policy.choose")
    unit = session.get(OrgUnit, user.org_unit_id) if user.org_unit_id else None
    if county_id is not None:
        county = session.get(OrgUnit, county_id) if isinstance(county_id, int) else None
        if county is None or county.level != "county":
            raise access.AccessDenied(N_("This is outside your area."))
    elif unit is not None:
        county = county_of(session, unit)
    else:
        raise PolicyError(MSG_NOT_COUNTY)
    access.require(session, user, "policy.choose", county)
    return county


def choosable_counties(session: Session, user: User) -> list[OrgUnit]:
    """Return the counties whose policy ``user`` may choose (by name)."""
    access.require(session, user, "policy.choose")
    return list(session.exec(select(OrgUnit).where(OrgUnit.level == "county", access.scope_filter(session, user))
                             .order_by(OrgUnit.name)).all())


def _upload_prefix(county: OrgUnit) -> str:
    return f"upload:{county.id}:"


def own_documents(session: Session, county: OrgUnit) -> list[PolicyDocument]:
    """Return the stored profiles the county may choose again: those it uploaded, and the one it follows."""
    from sqlalchemy import or_

    wanted = [PolicyDocument.source.like(_upload_prefix(county) + "%")]
    if county.policy_profile and not is_shipped(county.policy_profile):
        wanted.append(PolicyDocument.profile_id == county.policy_profile)
    return list(session.exec(select(PolicyDocument).where(or_(*wanted)).order_by(PolicyDocument.profile_id)).all())


def _owner(session: Session, county: OrgUnit, profile_id: str) -> OrgUnit | None:
    """Return the other county that holds a stored profile id (uploaded it, or follows it), or None."""
    user = session.exec(select(OrgUnit).where(OrgUnit.policy_profile == profile_id, OrgUnit.id != county.id)
                        .order_by(OrgUnit.id)).first()
    if user is not None:
        return user
    doc = session.exec(select(PolicyDocument).where(PolicyDocument.profile_id == profile_id)).first()
    if doc is not None and doc.source.startswith("upload:") and not doc.source.startswith(_upload_prefix(county)):
        owner_id = doc.source.split(":")[1]
        return session.get(OrgUnit, int(owner_id)) if owner_id.isdigit() else None
    return None


def choose(session: Session, user: User, county: OrgUnit, profile_id: str) -> Profile:
    """Make ``county`` follow a shipped profile (or the own profile it already follows), for ``user``; audited."""
    access.require(session, user, "policy.choose", county)
    if not (is_shipped(profile_id) or profile_id in {d.profile_id for d in own_documents(session, county)}):
        raise PolicyError(MSG_NOT_OFFERED, id=profile_id[:64])
    profile = profile_by_id(session, profile_id)
    return _adopt(session, _actor(user), county, profile, None, None)


def upload(session: Session, user: User, county: OrgUnit, data: bytes, filename: str) -> Profile:
    """Validate an uploaded profile file and make ``county`` follow it (its text stored as ``policy use``
    stores a file's); refuse a profile id used by a shipped profile or by another county. Audited."""
    access.require(session, user, "policy.choose", county)
    if len(data) > UPLOAD_MAX_BYTES:
        raise PolicyError(MSG_TOO_LARGE, kb=UPLOAD_MAX_BYTES // 1024)
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PolicyError(MSG_NOT_TEXT) from None
    if not content.strip():
        raise PolicyError(MSG_EMPTY)
    name = Path(filename or "profile.yaml").name[:200] or "profile.yaml"
    try:
        yaml.safe_load(content)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is None:
            raise PolicyError(MSG_BAD_YAML_SOMEWHERE) from None
        raise PolicyError(MSG_BAD_YAML, line=mark.line + 1, column=mark.column + 1) from None
    profile = load_text(content, name)
    owner = None if is_shipped(profile.id) else _owner(session, county, profile.id)
    if owner is not None:
        raise PolicyError(MSG_OTHER_COUNTY, id=profile.id, county=owner.name)
    source = f"{_upload_prefix(county)}{name}"[:500]
    return _adopt(session, _actor(user), county, profile, content, source)
