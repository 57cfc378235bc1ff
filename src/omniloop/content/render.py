"""Sandboxed template rendering (话术渲染).

Templates are written by operators, so they are untrusted code: Jinja2's ``ImmutableSandboxedEnvironment``
refuses attribute access to internals (``__class__``, ``mro``, ``func_globals`` …) and any mutation of
the values it is given; ``StrictUndefined`` turns a missing variable into an error instead of an empty
string, so a message never goes out as "尊敬的，您好". On top of the sandbox we allow only a small subset of
the language — output, ``if``/``elif``/``else``, ``set`` and filters — because a message needs nothing
more and loops or macros would let a template burn CPU (``range`` is capped by the sandbox, nested loops
are not). The context holds plain dicts and strings only (``content/variables.py``).

A template version is compiled once per distinct source (an LRU cache keyed by the text, not the id, so
a reused id in another database cannot serve stale code); ``render_many`` renders one compiled template
for many customers with their contexts built in two queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.content import variables as var
from omniloop.content.models import MessageTemplate, MessageTemplateVersion
from omniloop.core.errors import NotFound, ValidationFailed

MAX_SOURCE_CHARS = 5_000
MAX_OUTPUT_CHARS = 20_000
ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.Assign, nodes.Name, nodes.Const,
    nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Test, nodes.CondExpr, nodes.And, nodes.Or, nodes.Not,
    nodes.Compare, nodes.Operand, nodes.Concat, nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv,
    nodes.Mod, nodes.Neg, nodes.Pos, nodes.Tuple, nodes.List, nodes.Keyword,
)
# Filters that only format values; anything else (attr, map, format, …) is refused by the checker.
SAFE_FILTERS = frozenset({"default", "d", "upper", "lower", "title", "capitalize", "trim", "truncate", "replace",
                          "string", "int", "float", "round", "abs", "length", "first", "last", "e", "escape"})


class TemplateRenderError(ValidationFailed):
    code = "template_render_failed"
    message_zh = "模板渲染失败"
    message_en = "The template could not be rendered"


class TemplateVersionNotFound(NotFound):
    code = "template_version_not_found"
    message_zh = "模板版本不存在"
    message_en = "Template version not found"


class _Environment(ImmutableSandboxedEnvironment):
    def is_safe_attribute(self, obj, attr, value):
        # Plain data only: no methods of str/dict either ('{{ x.format(...) }}', '{{ d.items() }}').
        return not attr.startswith("_") and not callable(value) and super().is_safe_attribute(obj, attr, value)

    def is_safe_callable(self, obj):
        return False


def _environment(autoescape: bool) -> _Environment:
    env = _Environment(undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=True)
    env.filters = {k: v for k, v in env.filters.items() if k in SAFE_FILTERS}
    env.tests = {k: v for k, v in env.tests.items() if k in {"defined", "undefined", "none", "number", "string",
                                                            "eq", "ne", "lt", "le", "gt", "ge", "in", "==", "!=",
                                                            "<", "<=", ">", ">="}}
    env.globals = {}
    return env


_PLAIN = _environment(False)
_HTML = _environment(True)


def environment(channel: str | None = None) -> _Environment:
    """E-mail bodies are HTML: values are escaped there; every other channel is plain text."""
    return _HTML if channel == "email" else _PLAIN


@dataclass(frozen=True)
class SourceProblem:
    code: str  # syntax_error | unsupported_syntax | unsafe_attribute | unknown_variable | unknown_filter
    message_zh: str
    message_en: str
    line: int | None = None
    detail: dict = field(default_factory=dict)


def _names(node: nodes.Node) -> str | None:
    """``customer.name_masked`` for Getattr(Name('customer'), 'name_masked'); None for anything else."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        return f"{node.node.name}.{node.attr}"
    if (isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name) and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)):
        return f"{node.node.name}.{node.arg.value}"
    return None


def analyse(source: str, channel: str | None = None) -> tuple[list[str], list[SourceProblem]]:
    """The variables a template uses and every problem with its source; never raises."""
    if len(source) > MAX_SOURCE_CHARS:
        return [], [SourceProblem("source_too_long", f"模板过长（超过{MAX_SOURCE_CHARS}字）",
                                  f"Template longer than {MAX_SOURCE_CHARS} characters")]
    try:
        tree = environment(channel).parse(source)
    except TemplateSyntaxError as exc:
        return [], [SourceProblem("syntax_error", f"模板语法错误：{exc.message}", f"Syntax error: {exc.message}",
                                  line=exc.lineno)]
    problems: list[SourceProblem] = []
    used: list[str] = []
    assigned = {n.name for a in tree.find_all(nodes.Assign)
                for n in ([a.target] if isinstance(a.target, nodes.Name) else a.target.find_all(nodes.Name))}
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, ALLOWED_NODES):
            kind = type(node).__name__
            problems.append(SourceProblem(
                "unsupported_syntax", f"模板不支持该语法（{kind}），只能使用变量、过滤器和 if 判断",
                f"Unsupported template syntax ({kind}); use variables, filters and if only",
                line=getattr(node, "lineno", None), detail={"node": kind}))
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            attr = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
            if isinstance(attr, str) and attr.startswith("_"):
                problems.append(SourceProblem("unsafe_attribute", f"不允许访问内部属性 {attr}",
                                              f"Access to internal attribute {attr} is not allowed",
                                              line=node.lineno, detail={"attribute": attr}))
        if isinstance(node, nodes.Filter) and node.name not in SAFE_FILTERS:
            problems.append(SourceProblem("unknown_filter", f"不支持的过滤器 {node.name}",
                                          f"Unsupported filter {node.name}", line=node.lineno,
                                          detail={"filter": node.name}))
    inner: set[int] = set()  # the Name inside customer.x is not a variable of its own
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = _names(node)
        if name is not None:
            inner.add(id(node.node))
            if name not in used:
                used.append(name)
    for node in tree.find_all(nodes.Name):
        if id(node) in inner or node.ctx != "load" or node.name in assigned:
            continue
        if node.name not in used:
            used.append(node.name)
    for name in used:
        if name in var.VARIABLE_NAMES or "._" in name:  # internal attributes are reported above
            continue
        if name in var.ROOTS and name != "unsubscribe":
            problems.append(SourceProblem("unknown_variable", f"请使用 {name} 的具体字段，例如 {name}.name",
                                          f"Use a field of {name}, e.g. {name}.name", detail={"variable": name}))
        else:
            problems.append(SourceProblem("unknown_variable", f"未知变量 {name}", f"Unknown variable {name}",
                                          detail={"variable": name}))
    return [n for n in used if n in var.VARIABLE_NAMES], problems


@lru_cache(maxsize=512)
def _compile(source: str, channel: str | None):
    return environment(channel).from_string(source)


def compile_source(source: str, channel: str | None = None):
    """Compile a checked source; raises TemplateRenderError with every problem when it is not acceptable."""
    _, problems = analyse(source, channel)
    if problems:
        raise TemplateRenderError(details=[p.__dict__ for p in problems])
    return _compile(source, channel)


def render_source(template, context: dict) -> str:
    try:
        out = template.render(context)
    except (UndefinedError, SecurityError) as exc:
        raise TemplateRenderError(f"模板渲染失败：{exc}", f"Template rendering failed: {exc}",
                                  details={"reason": str(exc)}) from None
    except (TemplateError, ArithmeticError, TypeError, ValueError, OverflowError) as exc:
        raise TemplateRenderError(details={"reason": f"{type(exc).__name__}: {exc}"}) from None
    if len(out) > MAX_OUTPUT_CHARS:
        raise TemplateRenderError("渲染结果过长", "Rendered text too long", code="template_output_too_long")
    return out


@dataclass(frozen=True)
class CompiledTemplate:
    """One template version compiled: subject, body and each structured field."""

    channel: str
    version_id: int | None
    subject: object | None
    body: object
    fields: dict

    @classmethod
    def of(cls, *, channel: str, subject: str | None, body: str, fields: dict | None,
           version_id: int | None = None) -> CompiledTemplate:
        return cls(channel=channel, version_id=version_id,
                   subject=compile_source(subject, channel) if subject else None,
                   body=compile_source(body, channel),
                   fields={k: compile_source(str(v), channel) for k, v in (fields or {}).items()
                           if isinstance(v, str)})

    def render(self, context: dict) -> RenderedMessage:
        return RenderedMessage(
            channel=self.channel, template_version_id=self.version_id,
            subject=render_source(self.subject, context) if self.subject is not None else None,
            body=render_source(self.body, context),
            fields={k: render_source(t, context) for k, t in self.fields.items()},
        )


@dataclass(frozen=True)
class RenderedMessage:
    channel: str
    template_version_id: int | None
    subject: str | None
    body: str
    fields: dict


def compile_version(session: Session, *, template_version_id: int) -> CompiledTemplate:
    row = session.execute(
        select(MessageTemplateVersion.subject, MessageTemplateVersion.body, MessageTemplateVersion.fields,
               MessageTemplate.channel)
        .join(MessageTemplate, MessageTemplate.id == MessageTemplateVersion.template_id)
        .where(MessageTemplateVersion.id == template_version_id)
    ).first()
    if row is None:
        raise TemplateVersionNotFound(details={"template_version_id": template_version_id})
    subject, body, fields, channel = row
    return CompiledTemplate.of(channel=channel, subject=subject, body=body, fields=fields,
                               version_id=template_version_id)


def render_message(session: Session, *, template_version_id: int, customer, benefit=None, campaign=None,
                   reveal_pii: bool = False) -> RenderedMessage:
    """Render one template version for one customer (masked unless ``reveal_pii``)."""
    compiled = compile_version(session, template_version_id=template_version_id)
    context = var.contexts(session, [customer], benefit=benefit, campaign=campaign, reveal_pii=reveal_pii)[0]
    return compiled.render(context)


def render_many(session: Session, *, template_version_id: int, customers: Sequence, benefit=None, campaign=None,
                reveal_pii: bool = False) -> list[RenderedMessage]:
    """The fast path: one compiled template, contexts for all customers in two queries."""
    compiled = compile_version(session, template_version_id=template_version_id)
    contexts = var.contexts(session, customers, benefit=benefit, campaign=campaign, reveal_pii=reveal_pii)
    return [compiled.render(c) for c in contexts]
