"""Text as it will be spoken: TTS text transforms (markdown, emoji, spoken forms, pronunciations)."""

from .language import Money, SpokenLanguage, register_language, spoken_language
from .markdown import strip_emoji, strip_markdown
from .pronunciation import Pronunciations
from .spoken import KINDS, speak
from .transforms import (
    DEFAULT_TTS_TEXT_TRANSFORMS,
    NAMES,
    SPOKEN_FORMS,
    TextTransform,
    TextTransformChain,
    TextTransformLike,
    TextTransformStream,
    check_transforms,
    transform_text,
)

__all__ = [
    "DEFAULT_TTS_TEXT_TRANSFORMS",
    "KINDS",
    "NAMES",
    "SPOKEN_FORMS",
    "Money",
    "Pronunciations",
    "SpokenLanguage",
    "TextTransform",
    "TextTransformChain",
    "TextTransformLike",
    "TextTransformStream",
    "check_transforms",
    "register_language",
    "speak",
    "spoken_language",
    "strip_emoji",
    "strip_markdown",
    "transform_text",
]
