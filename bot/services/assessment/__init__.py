"""Scoring over the registry: the database side of issue 6 (``bot/scoring`` stays pure).

- ``facts``: fill the facts the system holds (ledger funds, income and households from monthly
  reports) into a facts file and score an asset against a year-end or project rubric;
- ``classes``: the township's 四个一批 classification, suggested from monthly reports and problems,
  confirmed or changed by the township leader (audited);
- ``compliance``: reporting compliance of villages and townships per month or year, rolled up to
  the county.
"""

from bot.services.assessment.classes import confirm_class, suggest_classes
from bot.services.assessment.common import AssessmentError
from bot.services.assessment.compliance import compliance_scores
from bot.services.assessment.facts import registry_facts, score_asset

__all__ = ["AssessmentError", "compliance_scores", "confirm_class", "registry_facts", "score_asset",
           "suggest_classes"]
