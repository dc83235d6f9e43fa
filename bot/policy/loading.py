"""Find, read and validate policy profiles: the shipped ones by id, any file by path, or YAML text.

Kept apart from ``bot.policy.profile`` (the profile's data) so that the schema (``bot.policy.schema``),
which builds that data, and the loader, which calls the schema, import in one direction only.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from bot.i18n import N_
from bot.policy.profile import Profile
from bot.policy.schema import read_profile
from bot.policy.validate import ProfileError, Reader

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"


def available() -> list[str]:
    """Return the ids of the shipped profiles, sorted."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def load(name_or_path: str | Path) -> Profile:
    """Load and validate a shipped profile by id, or any profile file by path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = PROFILES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ProfileError(str(path), "", N_("Profile file not found."))
    return _load_file(str(path), path.stat().st_mtime_ns)


def is_shipped(name: str) -> bool:
    """Return True when ``name`` is the id of a profile shipped under ``PROFILES_DIR``."""
    return name in available()


@lru_cache(maxsize=64)
def _load_file(name: str, mtime_ns: int) -> Profile:
    """Parse one profile file; cached per modification time, so an edited file is read again."""
    return load_text(Path(name).read_text(encoding="utf-8"), name)


@lru_cache(maxsize=64)
def load_text(content: str, source: str = "<profile>") -> Profile:
    """Parse and validate a profile from its YAML text (a county's own profile kept in the database)."""
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise ProfileError(source, "", N_("Not valid YAML: {detail}"), detail=str(exc)) from exc
    return parse(data, source=source)


def parse(data: object, source: str = "<profile>") -> Profile:
    """Validate already-parsed YAML data and return the profile; errors name ``source`` and the field."""
    return read_profile(Reader(data, source))
