"""Risk rules: which answers of a form become problems, and how serious (DOMAIN.md "Risk signals")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.flows.form import Form


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
