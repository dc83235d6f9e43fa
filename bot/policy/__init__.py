"""Policy profiles and the pure planner of reminders, digests and alerts (no database, no clock).

``bot.services.schedule_facts`` feeds the planner from the database; ``bot.policy_cli`` holds the
``policy`` and ``schedule`` commands; delivery lives in ``bot.services.outbox``.
"""

from bot.policy.calendar import Occurrence, occurrences
from bot.policy.facts import Facts, Recipient, Scope, SeriousProblem, Submission
from bot.policy.loading import available, load, parse
from bot.policy.messages import PlannedMessage, render
from bot.policy.planner import plan
from bot.policy.profile import Profile
from bot.policy.validate import ProfileError

__all__ = [
    "Facts", "Occurrence", "PlannedMessage", "Profile", "ProfileError", "Recipient", "Scope",
    "SeriousProblem", "Submission", "available", "load", "occurrences", "parse", "plan", "render",
]
