"""Content checks (话术校验): length rules per channel, the SMS opt-out text, blocked words, template problems.

``check_template`` checks a template before it is saved or used: its source (syntax, the allowed subset,
unknown variables — from the parsed AST, not by running it) and a rendering with the *longest* value of
every variable, so a length rule that holds for the sample holds for every customer. ``check_rendered``
applies the text rules to one rendered message (the preview runs it per sample customer).

Limits we apply (and why):

| channel | rule | limit |
|---|---|---|
| sms | segments: GSM-7 text 160 characters single / 153 per part; anything else (Chinese) is UCS-2: 70 single / 67 per part, counted in UTF-16 units (an emoji counts 2). Chinese carriers bill per part. | warning above 1 part, error above 10 parts |
| sms (marketing) | must contain the opt-out text (拒收请回复R / 回T退订 …), required for marketing SMS by MIIT rules | error |
| wechat | template message (模板消息): 1–5 keyword fields; each value ≤ 20 characters (the ``thing`` type's limit, the strictest common one) | error |
| app_push | title ≤ 20 characters, body ≤ 100 characters (what the major Android vendors' notification shade shows before truncating) | error |
| email | subject required, ≤ 78 characters (RFC 5322 line length) | error / warning |
| rm_task | title ≤ 50 characters, body ≤ 1000 characters | error |
| all | blocked words (敏感词) from the ``blocked_words`` table, matched ignoring case and spaces | error |
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.content import render
from omniloop.content import variables as var
from omniloop.content.models import BlockedWord

CHANNELS = ("app_push", "sms", "wechat", "email", "rm_task")
PURPOSES = ("marketing", "service")

GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€\f")
SMS_MAX_PARTS = 10
WECHAT_MAX_FIELDS = 5
WECHAT_FIELD_CHARS = 20
PUSH_TITLE_CHARS = 20
PUSH_BODY_CHARS = 100
EMAIL_SUBJECT_CHARS = 78
RM_TASK_TITLE_CHARS = 50
RM_TASK_BODY_CHARS = 1000
_OPT_OUT = re.compile(r"(拒收|退订).{0,4}回复?\s*[A-Za-z0-9]|回复?\s*[A-Za-z0-9]{1,4}\s*(退订|拒收)")
_IGNORED = re.compile(r"[\s\u3000·•._\-*|/\\]+")


@dataclass(frozen=True)
class ContentProblem:
    code: str
    severity: str  # error | warning
    message_zh: str
    message_en: str
    field: str | None = None  # subject | body | fields.<key>
    line: int | None = None
    detail: dict = dc_field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # gsm7 | ucs2
    units: int  # characters as the network counts them
    segments: int
    per_segment: int


def sms_length(text: str) -> SmsLength:
    if all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text):
        units = sum(2 if ch in GSM_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "gsm7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "ucs2"
    if units <= single:
        return SmsLength(encoding, units, 1 if units else 0, single)
    return SmsLength(encoding, units, -(-units // multi), multi)


def has_opt_out(text: str) -> bool:
    return var.UNSUBSCRIBE_TEXT in text or bool(_OPT_OUT.search(text))


def find_blocked(text: str, blocked_words: Sequence[str]) -> list[str]:
    """Blocked words in ``text``, ignoring case and spaces/dots put between characters to dodge the check."""
    squeezed = _IGNORED.sub("", text).lower()
    found = []
    for word in blocked_words:
        w = _IGNORED.sub("", word).lower()
        if w and w in squeezed and word not in found:
            found.append(word)
    return found


def load_blocked_words(session: Session) -> list[str]:
    return list(session.scalars(select(BlockedWord.word).order_by(BlockedWord.word)))


def _p(code, severity, zh, en, field=None, **detail) -> ContentProblem:
    return ContentProblem(code, severity, zh, en, field=field, detail=detail)


def check_rendered(channel: str, subject: str | None, body: str, fields: dict | None, purpose: str,
                   blocked_words: Sequence[str]) -> list[ContentProblem]:
    """Text rules on one rendered message (or a template's longest-value rendering)."""
    problems: list[ContentProblem] = []
    fields = fields or {}
    if channel != "wechat" and not body.strip():
        problems.append(_p("empty_body", "error", "正文不能为空", "The body is empty", "body"))
    if channel == "sms":
        length = sms_length(body)
        if length.segments > SMS_MAX_PARTS:
            problems.append(_p("sms_too_long", "error",
                               f"短信共 {length.units} 字，需拆为 {length.segments} 条，超过上限 {SMS_MAX_PARTS} 条",
                               f"SMS of {length.units} characters needs {length.segments} parts; "
                               f"the limit is {SMS_MAX_PARTS}", "body", **asdict(length)))
        elif length.segments > 1:
            problems.append(_p("sms_multi_segment", "warning",
                               f"短信共 {length.units} 字，将按 {length.segments} 条计费（每条 {length.per_segment} 字）",
                               f"SMS of {length.units} characters is billed as {length.segments} parts "
                               f"({length.per_segment} each)", "body", **asdict(length)))
        if purpose == "marketing" and not has_opt_out(body):
            problems.append(_p("sms_unsubscribe_missing", "error",
                               f"营销短信必须包含退订提示，例如「{var.UNSUBSCRIBE_TEXT}」或变量 {{{{ unsubscribe }}}}",
                               f"Marketing SMS must contain opt-out text, e.g. \"{var.UNSUBSCRIBE_TEXT}\" "
                               "or {{ unsubscribe }}", "body"))
    elif channel == "wechat":
        if not fields:
            problems.append(_p("wechat_fields_missing", "error", "微信模板消息至少需要一个字段",
                               "A WeChat template message needs at least one field", "fields"))
        if len(fields) > WECHAT_MAX_FIELDS:
            problems.append(_p("wechat_too_many_fields", "error", f"微信模板消息最多 {WECHAT_MAX_FIELDS} 个字段",
                               f"At most {WECHAT_MAX_FIELDS} WeChat template fields", "fields",
                               count=len(fields)))
        for key, value in fields.items():
            if len(str(value)) > WECHAT_FIELD_CHARS:
                problems.append(_p("wechat_field_too_long", "error",
                                   f"字段 {key} 共 {len(str(value))} 字，超过微信限制 {WECHAT_FIELD_CHARS} 字",
                                   f"Field {key} has {len(str(value))} characters; WeChat allows "
                                   f"{WECHAT_FIELD_CHARS}", f"fields.{key}", length=len(str(value)),
                                   limit=WECHAT_FIELD_CHARS))
    elif channel == "app_push":
        if not (subject or "").strip():
            problems.append(_p("push_title_missing", "error", "推送标题不能为空", "The push title is empty", "subject"))
        elif len(subject) > PUSH_TITLE_CHARS:
            problems.append(_p("push_title_too_long", "error", f"推送标题超过 {PUSH_TITLE_CHARS} 字",
                               f"Push title longer than {PUSH_TITLE_CHARS} characters", "subject",
                               length=len(subject), limit=PUSH_TITLE_CHARS))
        if len(body) > PUSH_BODY_CHARS:
            problems.append(_p("push_body_too_long", "error", f"推送正文超过 {PUSH_BODY_CHARS} 字",
                               f"Push body longer than {PUSH_BODY_CHARS} characters", "body",
                               length=len(body), limit=PUSH_BODY_CHARS))
    elif channel == "email":
        if not (subject or "").strip():
            problems.append(_p("email_subject_missing", "error", "邮件主题不能为空", "The e-mail subject is empty",
                               "subject"))
        elif len(subject) > EMAIL_SUBJECT_CHARS:
            problems.append(_p("email_subject_too_long", "warning", f"邮件主题超过 {EMAIL_SUBJECT_CHARS} 字",
                               f"E-mail subject longer than {EMAIL_SUBJECT_CHARS} characters", "subject",
                               length=len(subject), limit=EMAIL_SUBJECT_CHARS))
    elif channel == "rm_task":
        if len(subject or "") > RM_TASK_TITLE_CHARS:
            problems.append(_p("rm_task_title_too_long", "error", f"任务标题超过 {RM_TASK_TITLE_CHARS} 字",
                               f"Task title longer than {RM_TASK_TITLE_CHARS} characters", "subject"))
        if len(body) > RM_TASK_BODY_CHARS:
            problems.append(_p("rm_task_body_too_long", "error", f"任务说明超过 {RM_TASK_BODY_CHARS} 字",
                               f"Task text longer than {RM_TASK_BODY_CHARS} characters", "body"))
    parts = [("subject", subject or ""), ("body", body)] + [(f"fields.{k}", str(v)) for k, v in fields.items()]
    reported: set[str] = set()
    for where, text in parts:
        for word in find_blocked(text, blocked_words):
            if word not in reported:
                reported.add(word)
                problems.append(_p("blocked_word", "error", f"包含敏感词「{word}」", f"Contains blocked word \"{word}\"",
                                   where, word=word))
    return problems


def check_template(channel: str, subject: str | None, body: str, fields: dict | None, purpose: str,
                   blocked_words: Sequence[str]) -> list[ContentProblem]:
    """Every problem of a template: source problems first, then the text rules on a rendering with the
    longest value of each variable. Never raises."""
    problems: list[ContentProblem] = []
    if channel not in CHANNELS:
        return [_p("unknown_channel", "error", f"不支持的渠道 {channel}", f"Unknown channel {channel}", "channel")]
    sources = [("subject", subject)] if subject else []
    sources += [("body", body)] + [(f"fields.{k}", str(v)) for k, v in (fields or {}).items()]
    for where, source in sources:
        for problem in render.analyse(source or "", channel)[1]:
            problems.append(ContentProblem(problem.code, "error", problem.message_zh, problem.message_en,
                                           field=where, line=problem.line, detail=problem.detail))
    if problems:
        # The text cannot be rendered; still report blocked words in the literal text.
        literal = check_rendered(channel, subject, body, fields, "service", blocked_words)
        return problems + [p for p in literal if p.code == "blocked_word"]
    try:
        compiled = render.CompiledTemplate.of(channel=channel, subject=subject, body=body, fields=fields)
        rendered = compiled.render(var.sample_context(longest=True))
    except render.TemplateRenderError as exc:
        return [_p("render_failed", "error", exc.message_zh, exc.message_en, "body", reason=exc.details)]
    return check_rendered(channel, rendered.subject, rendered.body, rendered.fields, purpose, blocked_words)


def used_variables(subject: str | None, body: str, fields: dict | None) -> list[str]:
    """The declared variables a template uses (stored on its version)."""
    used: list[str] = []
    for source in [subject or "", body] + [str(v) for v in (fields or {}).values()]:
        for name in render.analyse(source)[0]:
            if name not in used:
                used.append(name)
    return used


def errors(problems: Sequence[ContentProblem]) -> list[ContentProblem]:
    return [p for p in problems if p.severity == "error"]
