"""Language negotiation: Chinese (zh-CN) by default, English as the second language."""

from contextvars import ContextVar

SUPPORTED = ("zh-CN", "en")
current_language: ContextVar[str] = ContextVar("current_language", default="zh-CN")


def negotiate(accept_language: str | None) -> str:
    """Pick the first supported language from an Accept-Language header, zh-CN if none matches."""
    if not accept_language:
        return "zh-CN"
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return "zh-CN"
    return "zh-CN"


def pick(message_zh: str, message_en: str) -> str:
    return message_en if current_language.get() == "en" else message_zh
