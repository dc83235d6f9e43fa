"""Pure scoring: published rubrics as data, facts in, scores and a trace out.

Nothing here touches the database, the clock, Telegram or the web: callers pass plain data
(a facts mapping, monthly report summaries, report records) and get plain results back.
"""

from bot.scoring.engine import evaluate, score_facts_file
from bot.scoring.errors import ScoringInputError
from bot.scoring.rubric import load_rubric

__all__ = ["ScoringInputError", "evaluate", "load_rubric", "score_facts_file"]
