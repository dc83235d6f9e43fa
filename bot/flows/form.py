"""Forms as data: the Form/Question/Option model, conditions, and loading + validating the YAML.

A form lives in ``bot/flows/forms/<anything>.yaml`` with ``id``, ``version``, ``title``,
``applies_to``, ``questions`` and ``risks`` (docs/forms.md). Loading checks the whole file and
raises ``FormError`` naming the file and the offending key, so a broken form never reaches users.
Strings shown to people (title, prompt, help, label, error, message) are English msgids,
extracted by ``bot.i18n.extract_yaml`` and translated in locales/*/LC_MESSAGES/flows.po.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.i18n import N_
from bot.reloading import reloading

FORMS_DIR = Path(__file__).resolve().parent / "forms"
TYPES = ("yesno", "choice", "multi", "number", "text", "date", "photo", "location")
SEVERITIES = ("serious", "major", "minor")
# The channels a form is filled on; a question may word its help for one of them (``web_help``,
# ``telegram_help``) where what the person sees differs (buttons, attachments). See bot/flows/wording.py.
CHANNELS = ("web", "telegram")
YESNO_LABELS = {"yes": N_("Yes"), "no": N_("No")}
# Units are named in the YAML by key; their msgids live here so that extraction finds them.
UNITS = {
    "wan_yuan": N_("× 10,000 yuan"),
    "yuan": N_("yuan"),
    "households": N_("households"),
    "people": N_("people"),
    "months": N_("months"),
    "mu": N_("mu"),
}
DEFAULT_MAX_LENGTH = 500
DEFAULT_MAX_PHOTOS = 5
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_OPS = ("equals", "not_equals", "in", "contains", "gt", "gte", "lt", "lte", "answered")


class FormError(ValueError):
    """A form file is malformed; the message names the file and the key (for developers, not users)."""


@dataclass(frozen=True)
class Option:
    """One choice: a stable ascii ``key`` (stored in answers) and a ``label`` msgid."""

    key: str
    label: str


@dataclass(frozen=True)
class Condition:
    """A test on earlier answers: ``{key: k, equals: v}``, ``in``, ``contains``, ``gt``…, or all/any/not.

    A question that is unanswered, skipped or hidden makes every test on it false
    (``answered: false`` excepted).
    """

    op: str
    key: str | None = None
    value: Any = None
    parts: tuple[Condition, ...] = ()

    def keys(self) -> set[str]:
        """Return every answer key this condition reads."""
        if self.key is not None:
            return {self.key}
        return set().union(*(p.keys() for p in self.parts))

    def holds(self, answers: Mapping[str, Any]) -> bool:
        """Return whether the condition is true for ``answers``."""
        if self.op == "all":
            return all(p.holds(answers) for p in self.parts)
        if self.op == "any":
            return any(p.holds(answers) for p in self.parts)
        if self.op == "not":
            return not self.parts[0].holds(answers)
        value = answers.get(self.key) if self.key is not None else None
        if self.op == "answered":
            return (value is not None) == bool(self.value)
        if value is None:
            return False
        if self.op == "equals":
            return value == self.value
        if self.op == "not_equals":
            return value != self.value
        if self.op == "in":
            return value in self.value
        if self.op == "contains":
            return isinstance(value, list) and self.value in value
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        return {"gt": value > self.value, "gte": value >= self.value,
                "lt": value < self.value, "lte": value <= self.value}[self.op]


@dataclass(frozen=True)
class Question:
    """One question of a form; which fields matter depends on ``type`` (docs/forms.md)."""

    key: str
    type: str
    prompt: str
    help: str | None = None
    options: tuple[Option, ...] = ()
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    integer: bool = False
    required: bool = True
    show_if: Condition | None = None
    min_count: int = 0
    max_count: int = 0
    max_length: int = DEFAULT_MAX_LENGTH
    error: str | None = None
    channel_help: tuple[tuple[str, str], ...] = ()

    def help_for(self, channel: str) -> str | None:
        """Return the help msgid for a channel (``web``, ``telegram``): its own ``<channel>_help`` if the form
        gives one, else the common ``help``."""
        return dict(self.channel_help).get(channel, self.help)

    def option(self, key: Any) -> Option | None:
        """Return the option with this key, if any."""
        return next((o for o in self.options if o.key == key), None)

    @property
    def is_list(self) -> bool:
        """Whether the answer is a list filled step by step (multi, photo)."""
        return self.type in ("multi", "photo")


@dataclass(frozen=True)
class RiskRule:
    """Answers that make a problem: when ``when`` holds, a hit of ``kind`` and ``severity``.

    ``params`` maps message placeholders to answer keys; ``note`` names a text answer whose
    words describe the problem.
    """

    kind: str
    severity: str
    when: Condition
    label: str
    message: str
    params: tuple[tuple[str, str], ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class Form:
    """A versioned checklist: questions in order, and the risk rules over their answers."""

    id: str
    version: int
    title: str
    applies_to: tuple[str, ...]
    questions: tuple[Question, ...]
    risks: tuple[RiskRule, ...] = ()
    source: str = ""
    _index: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({q.key: i for i, q in enumerate(self.questions)})

    def question(self, key: str) -> Question | None:
        """Return the question with this key, if the form has it."""
        i = self._index.get(key)
        return None if i is None else self.questions[i]

    def index(self, key: str) -> int:
        """Return the position of a question in the form (KeyError if absent)."""
        return self._index[key]


# --- parsing and validation -------------------------------------------------------------------

class _Parser:
    """Build a Form from one YAML document, collecting the first error with its place."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, why: str) -> FormError:
        return FormError(f"{self.path.name}: {where}: {why}")

    def text(self, raw: Mapping, name: str, where: str) -> str:
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"'{name}' must be a non-empty string")
        return value

    def optional_text(self, raw: Mapping, name: str, where: str) -> str | None:
        return None if raw.get(name) is None else self.text(raw, name, where)

    def key(self, value: Any, where: str) -> str:
        if isinstance(value, bool):
            raise self.fail(where, f"key {value!r} was read as a boolean: quote it ('yes', 'no')")
        if not isinstance(value, str) or not _KEY.match(value):
            raise self.fail(where, f"key {value!r} must be lower-case ascii: letters, digits, '_'")
        return value

    def form(self, raw: Any) -> Form:
        if not isinstance(raw, dict):
            raise self.fail("top level", "a form is a mapping with id, version, title, questions")
        unknown = set(raw) - {"id", "version", "title", "applies_to", "questions", "risks", "source"}
        if unknown:
            raise self.fail("top level", f"unknown fields {sorted(unknown)}")
        form_id = raw.get("id")
        if not isinstance(form_id, str) or not re.match(r"^[a-z][a-z0-9-]*$", form_id):
            raise self.fail("id", "must be lower-case ascii with '-', e.g. monthly-operating")
        version = raw.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise self.fail("version", "must be a positive whole number")
        applies = raw.get("applies_to") or []
        if not isinstance(applies, list) or not all(isinstance(a, str) for a in applies):
            raise self.fail("applies_to", "must be a list of asset types")
        questions_raw = raw.get("questions")
        if not isinstance(questions_raw, list) or not questions_raw:
            raise self.fail("questions", "must be a non-empty list")
        questions: list[Question] = []
        seen: dict[str, Question] = {}
        for number, q_raw in enumerate(questions_raw, 1):
            question = self.question(q_raw, number, seen)
            seen[question.key] = question
            questions.append(question)
        risks_raw = raw.get("risks") or []
        if not isinstance(risks_raw, list):
            raise self.fail("risks", "must be a list")
        risks = tuple(self.risk(r, i, seen) for i, r in enumerate(risks_raw, 1))
        return Form(id=form_id, version=version, title=self.text(raw, "title", "title"),
                    applies_to=tuple(applies), questions=tuple(questions), risks=risks,
                    source=str(raw.get("source") or ""))

    def question(self, raw: Any, number: int, earlier: dict[str, Question]) -> Question:
        if not isinstance(raw, dict):
            raise self.fail(f"question {number}", "must be a mapping")
        key = self.key(raw.get("key"), f"question {number}")
        where = f"question '{key}'"
        if key in earlier:
            raise self.fail(where, "duplicate key")
        allowed = {"key", "type", "prompt", "help", "options", "unit", "min", "max", "integer", "required",
                   "show_if", "min_count", "max_count", "max_length", "error",
                   *(f"{channel}_help" for channel in CHANNELS)}
        unknown = set(raw) - allowed
        if unknown:
            raise self.fail(where, f"unknown fields {sorted(unknown)}")
        qtype = raw.get("type")
        if qtype not in TYPES:
            raise self.fail(where, f"unknown type {qtype!r} (one of {', '.join(TYPES)})")
        required = raw.get("required", True)
        if not isinstance(required, bool):
            raise self.fail(where, "'required' must be true or false")
        options = self.options(raw, qtype, where)
        low, high = self.number(raw, "min", where), self.number(raw, "max", where)
        if low is not None and high is not None and low > high:
            raise self.fail(where, "'min' is greater than 'max'")
        min_count, max_count = self.counts(raw, qtype, required, len(options), where)
        max_length = raw.get("max_length", DEFAULT_MAX_LENGTH)
        if not isinstance(max_length, int) or max_length < 1:
            raise self.fail(where, "'max_length' must be a positive whole number")
        show_if = None
        if raw.get("show_if") is not None:
            show_if = self.condition(raw["show_if"], earlier, f"{where} show_if", "an earlier question")
        return Question(
            key=key, type=qtype, prompt=self.text(raw, "prompt", where), help=self.optional_text(raw, "help", where),
            options=options, unit=self.unit(raw, qtype, where), min=low, max=high,
            integer=bool(raw.get("integer", False)), required=required, show_if=show_if,
            min_count=min_count, max_count=max_count, max_length=max_length,
            error=self.optional_text(raw, "error", where),
            channel_help=tuple((channel, text) for channel in CHANNELS
                               if (text := self.optional_text(raw, f"{channel}_help", where)) is not None))

    def options(self, raw: Mapping, qtype: str, where: str) -> tuple[Option, ...]:
        given = raw.get("options")
        if qtype == "yesno":
            if given is not None:
                raise self.fail(where, "a yesno question has the fixed options 'yes' and 'no'")
            return tuple(Option(k, label) for k, label in YESNO_LABELS.items())
        if qtype not in ("choice", "multi"):
            if given is not None:
                raise self.fail(where, f"a {qtype} question has no options")
            return ()
        if not isinstance(given, list) or len(given) < 2:
            raise self.fail(where, "needs a list of at least two options")
        options: list[Option] = []
        for item in given:
            if not isinstance(item, dict):
                raise self.fail(where, "each option is a mapping with key and label")
            okey = self.key(item.get("key"), f"{where} option")
            if any(o.key == okey for o in options):
                raise self.fail(f"{where} option '{okey}'", "duplicate option key")
            options.append(Option(okey, self.text(item, "label", f"{where} option '{okey}'")))
        return tuple(options)

    def unit(self, raw: Mapping, qtype: str, where: str) -> str | None:
        name = raw.get("unit")
        if name is None:
            return None
        if qtype != "number" or name not in UNITS:
            raise self.fail(where, f"unit {name!r}: a number question's unit is one of {', '.join(UNITS)}")
        return UNITS[name]

    def number(self, raw: Mapping, name: str, where: str) -> float | None:
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise self.fail(where, f"'{name}' must be a number")
        return value

    def counts(self, raw: Mapping, qtype: str, required: bool, n_options: int, where: str) -> tuple[int, int]:
        if qtype not in ("multi", "photo"):
            if "min_count" in raw or "max_count" in raw:
                raise self.fail(where, "min_count/max_count apply to multi and photo questions only")
            return 0, 0
        default_max = n_options if qtype == "multi" else DEFAULT_MAX_PHOTOS
        low = raw.get("min_count", 1 if required else 0)
        high = raw.get("max_count", default_max)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (low, high)) or high < 1:
            raise self.fail(where, "min_count/max_count must be whole numbers, max_count at least 1")
        if low > high or (qtype == "multi" and high > n_options):
            raise self.fail(where, "min_count must not exceed max_count (nor max_count the options)")
        if required and low < 1:
            raise self.fail(where, "a required list question needs min_count of at least 1")
        return low, high

    def condition(self, raw: Any, known: dict[str, Question], where: str, scope: str) -> Condition:
        if not isinstance(raw, dict):
            raise self.fail(where, "a condition is a mapping such as {key: q, equals: 'yes'}")
        for group in ("all", "any"):
            if group in raw:
                if len(raw) != 1 or not isinstance(raw[group], list) or not raw[group]:
                    raise self.fail(where, f"'{group}' takes a non-empty list of conditions, alone")
                return Condition(group, parts=tuple(self.condition(p, known, where, scope) for p in raw[group]))
        if "not" in raw:
            if len(raw) != 1:
                raise self.fail(where, "'not' takes one condition, alone")
            return Condition("not", parts=(self.condition(raw["not"], known, where, scope),))
        key = raw.get("key")
        ops = [op for op in raw if op != "key"]
        if len(ops) != 1 or ops[0] not in _OPS:
            raise self.fail(where, f"needs 'key' and exactly one of {', '.join(_OPS)} (got {sorted(raw)})")
        op = ops[0]
        if key not in known:
            raise self.fail(where, f"refers to {key!r}, which is not {scope}")
        question, value = known[key], raw[op]
        if op in ("equals", "not_equals", "in", "contains"):
            values = value if op == "in" else [value]
            if op == "in" and not isinstance(value, list):
                raise self.fail(where, "'in' takes a list")
            if op == "contains" and question.type != "multi":
                raise self.fail(where, f"'contains' needs a multi question, '{key}' is {question.type}")
            if question.options:
                for v in values:
                    if isinstance(v, bool):
                        raise self.fail(where, f"value {v!r} was read as a boolean: quote it ('yes', 'no')")
                    if question.option(v) is None:
                        raise self.fail(where, f"'{key}' has no option {v!r}")
            value = tuple(values) if op == "in" else value
        elif op == "answered":
            if not isinstance(value, bool):
                raise self.fail(where, "'answered' takes true or false")
        else:
            if question.type != "number" or isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(where, f"'{op}' compares a number question with a number")
        return Condition(op, key=key, value=value)

    def risk(self, raw: Any, number: int, questions: dict[str, Question]) -> RiskRule:
        if not isinstance(raw, dict):
            raise self.fail(f"risk {number}", "must be a mapping")
        kind = self.key(raw.get("kind"), f"risk {number}")
        where = f"risk '{kind}'"
        unknown = set(raw) - {"kind", "severity", "when", "label", "message", "params", "note"}
        if unknown:
            raise self.fail(where, f"unknown fields {sorted(unknown)}")
        if raw.get("severity") not in SEVERITIES:
            raise self.fail(where, f"severity must be one of {', '.join(SEVERITIES)}")
        when = self.condition(raw.get("when"), questions, f"{where} when", "a question of this form")
        params = raw.get("params") or {}
        if not isinstance(params, dict) or any(not isinstance(k, str) or not k.isidentifier()
                                               or v not in questions for k, v in params.items()):
            raise self.fail(where, "params map placeholder names (quote on/off/yes/no) to question keys "
                                   "of this form")
        note = raw.get("note")
        if note is not None and (note not in questions or questions[note].type != "text"):
            raise self.fail(where, f"note {note!r} must be a text question of this form")
        message = self.text(raw, "message", where)
        missing = set(re.findall(r"{(\w+)}", message)) - set(params)
        if missing:
            raise self.fail(where, f"message placeholders {sorted(missing)} have no params")
        return RiskRule(kind=kind, severity=raw["severity"], when=when, label=self.text(raw, "label", where),
                        message=message, params=tuple(params.items()), note=note)


def parse_form(text: str, path: Path) -> Form:
    """Parse and validate one form document; ``path`` only names it in errors."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FormError(f"{path.name}: not valid YAML: {exc}") from None
    return _Parser(path).form(raw)


@reloading(lambda folder: folder.glob("*.yaml"))
def _registry(folder: Path) -> dict[tuple[str, int], Form]:
    forms: dict[tuple[str, int], Form] = {}
    for path in sorted(folder.glob("*.yaml")):
        form = parse_form(path.read_text(encoding="utf-8"), path)
        if (form.id, form.version) in forms:
            raise FormError(f"{path.name}: id: form {form.id} version {form.version} is defined twice")
        forms[(form.id, form.version)] = form
    return forms


def all_forms(folder: Path = FORMS_DIR) -> list[Form]:
    """Return the latest version of every form, sorted by id."""
    latest: dict[str, Form] = {}
    for form in _registry(folder).values():
        if form.id not in latest or form.version > latest[form.id].version:
            latest[form.id] = form
    return [latest[k] for k in sorted(latest)]


def load_form(form_id: str, version: int | None = None, folder: Path = FORMS_DIR) -> Form:
    """Return a form by id: the latest version, or the given one (KeyError if there is none)."""
    forms = _registry(folder)
    if version is not None:
        try:
            return forms[(form_id, version)]
        except KeyError:
            raise KeyError(f"no form {form_id!r} version {version}") from None
    versions = [f for (fid, _), f in forms.items() if fid == form_id]
    if not versions:
        raise KeyError(f"no form {form_id!r}")
    return max(versions, key=lambda f: f.version)


def form_for_asset_type(asset_type: str, folder: Path = FORMS_DIR) -> Form:
    """Return the latest form that applies to an asset type ('经营性', '公益性', '到户类')."""
    for form in all_forms(folder):
        if asset_type in form.applies_to:
            return form
    raise KeyError(f"no form applies to asset type {asset_type!r}")
