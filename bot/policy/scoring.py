"""What a county's profile says about scoring (issue 16, item 4): the 四个一批 parameters and seed 000's
thresholds, the grade bands, and the rubric per asset type.

Pure: a ``Profile`` in, the plain inputs of ``bot.scoring`` out. Where a profile is silent the defaults of
``bot.scoring`` apply (docs/scoring.md says which are our readings).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from bot.policy.profile import Profile
from bot.scoring.classify import ClassifyPolicy
from bot.scoring.grades import Grade, GradeScale, grade_scale

# profile thresholds (seed 000 三(二)) → ClassifyPolicy fields
THRESHOLD_FIELDS = {
    "workshop_seasonal_idle_months_max": "seasonal_idle_months",
    "workshop_idle_rate_max": "idle_rate_max",
    "workshop_workers_per_100m2": "workers_per_100m2",
    "workshop_poverty_share_min_new": "poverty_share_min_new",
    "workshop_poverty_share_min_old": "poverty_share_min_old",
    "pv_income_public_jobs_share": "pv_public_jobs_share_min",
}
GRADE_KEYS = ("grade_good_min", "grade_fairly_good_min", "grade_fair_min")
DEFAULT_GRADES = "qinbei-2023"


def classify_policy(profile: Profile | None) -> ClassifyPolicy:
    """Return the 四个一批 parameters of the county's profile (its thresholds and ``classification``)."""
    policy = ClassifyPolicy()
    if profile is None:
        return policy
    changes: dict[str, Any] = {}
    for key, name in THRESHOLD_FIELDS.items():
        if key in profile.thresholds:
            value = profile.thresholds[key]
            changes[name] = int(value) if name == "seasonal_idle_months" else Decimal(str(value))
    for name, value in profile.classification.items():
        changes[name] = Decimal(str(value)) if name == "workshop_workers_tolerance" else int(value)
    return replace(policy, **changes)


def grades_of(profile: Profile | None, default: str = DEFAULT_GRADES) -> GradeScale:
    """Return the grade bands: the profile's thresholds where it gives them (Qinbei 五(三)3), else ``default``.

    The names stay those of the default scale (好/较好/一般/较差); only the minima come from the profile.
    """
    scale = grade_scale(default)
    if profile is None or not all(k in profile.thresholds for k in GRADE_KEYS):
        return scale
    minima = [Decimal(str(profile.thresholds[k])) for k in GRADE_KEYS] + [Decimal(0)]
    grades = tuple(Grade(minimum, g.label, g.published) for minimum, g in zip(minima, scale.grades, strict=True))
    return GradeScale(f"{profile.id}:{default}", f"{profile.source} (profile {profile.id})", grades)


def rubric_for(profile: Profile | None, asset_type: str) -> str | None:
    """Return the rubric the profile chooses for an asset type, or None when it does not say."""
    if profile is None:
        return None
    return profile.rubrics.get(asset_type)
