"""Forms as data and one engine to walk them, for every transport (Telegram, web).

Pure: no database, no Telegram, no clock. See docs/forms.md for the YAML format.
"""

from bot.flows.form import (
    FORMS_DIR,
    Condition,
    Form,
    FormError,
    Option,
    Question,
    RiskRule,
    all_forms,
    form_for_asset_type,
    load_form,
    parse_form,
)
from bot.flows.risks import RiskHit, evaluate_risks, risk_labels
from bot.flows.values import AnswerError, format_answer
from bot.flows.walker import REVIEW, Walker

__all__ = [
    "FORMS_DIR", "REVIEW", "AnswerError", "Condition", "Form", "FormError", "Option", "Question", "RiskHit",
    "RiskRule", "Walker", "all_forms", "evaluate_risks", "form_for_asset_type", "format_answer", "load_form",
    "parse_form", "risk_labels",
]
