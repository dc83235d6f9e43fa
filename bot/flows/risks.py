"""Risk rules: which answers of a form become problems, and how serious (DOMAIN.md "Risk signals")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.flows.form import Form
from bot.i18n import N_


@dataclass(frozen=True)
class RiskHit:
    """One triggered rule: ``kind`` (stable key), ``severity``, a ``msgid`` with its ``params``.

    ``label`` is a short msgid naming the kind; ``note`` is the cadre's own description, if any.
    """

    kind: str
    severity: str
    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    note: str | None = None

    def as_flag(self) -> dict[str, Any]:
        """Return the hit as a JSON flag for ``Report.flags``."""
        return {"code": "risk", "kind": self.kind, "severity": self.severity, "msgid": self.msgid,
                "params": self.params, "label": self.label, "note": self.note}


def evaluate_risks(form: Form, answers: Mapping[str, Any]) -> list[RiskHit]:
    """Return the hits of ``form``'s risk rules on ``answers``, in the order of the rules."""
    hits = []
    for rule in form.risks:
        if rule.when.holds(answers):
            params = {name: answers.get(key) for name, key in rule.params}
            note = answers.get(rule.note) if rule.note else None
            hits.append(RiskHit(rule.kind, rule.severity, rule.message, params, rule.label, note))
    return hits


def risk_labels(forms: list[Form]) -> dict[str, str]:
    """Return kind → label msgid over the given forms (the first label seen for each kind)."""
    labels: dict[str, str] = {}
    for form in forms:
        for rule in form.risks:
            labels.setdefault(rule.kind, rule.label)
    return labels


# Losses (seed 000 四(二)2: "在企业、合作社出现连续亏算、严重亏算、资不抵债等情况时，要及时报请县级脱贫攻坚领导小组
# 办公室"; 四(三)4: "发现项目出现亏损、难以运营、资不抵债等可能导致财政扶贫资金流失风险的情况，要及时上报县级").
# A report whose risk hits include one of LOSS_KINDS says the operator lost money that period; two such reports
# of one asset in consecutive periods (months, or quarters) raise CONSECUTIVE_LOSSES.
LOSS_KINDS = frozenset({"operating_loss", "serious_loss", "operator_insolvent"})
CONSECUTIVE_LOSSES = "consecutive_losses"
CONSECUTIVE_LOSSES_LABEL = N_("Losses in consecutive periods")
CONSECUTIVE_LOSSES_MESSAGE = N_("The operator made losses in {previous} and again in {period}.")
# What the same paragraphs send to the county office at once, past the township: consecutive losses,
# serious losses, insolvency (bot.services.problems.route_new).
COUNTY_KINDS = frozenset({CONSECUTIVE_LOSSES, "serious_loss", "operator_insolvent"})


def is_loss(flags: list[dict[str, Any]] | None) -> bool:
    """Whether a report's stored flags (``Report.flags``) say the operator lost money in its period."""
    return any(f.get("code") == "risk" and f.get("kind") in LOSS_KINDS for f in flags or ())
