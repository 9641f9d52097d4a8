"""Text material for generated cards: titles, descriptions, comments (including the nasty ones)."""

from __future__ import annotations

import random
from functools import lru_cache

CARD_PERMISSIONS = {"comment": True, "create": True, "delete": True, "move": True, "properties": True,
                    "read": True, "read_own": False, "update": True}

_VERBS = ("Prepare", "Review", "Fix", "Ship", "Design", "Migrate", "Подготовить", "Проверить",
          "Исправить", "Согласовать")
_NOUNS = ("release notes", "login page", "billing export", "onboarding flow", "API limits",
          "отчёт за квартал", "договор с клиентом", "дизайн макета", "резервное копирование")

MD_COMMENTS = (
    "Looks good 👍",
    "**Blocked** by the `api` change, see [docs](https://example.org/docs).",
    "Проверил, всё ок.",
    "- [ ] follow up\n- [x] done",
    "> quoted text\n\nand an answer with `code`",
)
HTML_COMMENT = ('<p>Hello <b>team</b> &amp; <a href="https://example.org/partners">partners</a>:</p>'
                "<ul><li>first point</li><li>second &lt;point&gt;</li></ul>")
ITEM_TEXTS = ("Write tests", "Update docs", "Согласовать с юристами", "Deploy to staging",
              "Ping the customer 📞", "Check the metrics")

EMOJI_TITLE = "🚀 Launch party 🎉 — планирование ✨ 👩‍💻"
ARABIC_TITLE = "مراجعة التصميم النهائي للمشروع"
HEBREW_TITLE = "סקירת עיצוב סופית לפרויקט"


def card_title(rng: random.Random) -> str:
    return f"{rng.choice(_VERBS)} {rng.choice(_NOUNS)}"


def short_description(rng: random.Random) -> str:
    return (f"We need to {rng.choice(_VERBS).lower()} the {rng.choice(_NOUNS)}.\n\n"
            "- [x] draft\n- [ ] review\n\nSee **details** in the [wiki](https://example.org/wiki).")


def long_title() -> str:
    """Exactly 1024 characters (the documented maximum), mixing scripts."""
    unit = "Очень длинный заголовок — a very long title 🧵 "
    return (unit * (1024 // len(unit) + 1))[:1024]


def markdown_description(target_chars: int = 40 * 1024) -> str:
    """A large Markdown document with headings, lists, code, tables and links."""
    parts = []
    section = 0
    while sum(map(len, parts)) < target_chars:
        section += 1
        parts.append(
            f"## Section {section}: требования\n\n"
            "Some *emphasis*, some **bold**, `inline code` and a [link](https://example.org/s"
            f"{section}).\n\n1. first\n2. second\n   - nested ☑️\n\n"
            f"```python\nprint('hello {section}')\n```\n\n"
            "| column | значение |\n|---|---|\n| a | 1 |\n| b | 2 |\n\n> quote\n\n")
    return "".join(parts)


@lru_cache(maxsize=1)
def huge_description() -> str:
    """About 1.1 MB (UTF-8) of mixed multibyte text, beyond real Kaiten's cap on purpose."""
    line = "Строка {n}: Привет, мир! 你好，世界！ مرحبا بالعالم 🎉 Ünïcödé ✓\n"
    out, size, n = [], 0, 0
    while size < 1_150_000:
        text = line.format(n=n)
        out.append(text)
        size += len(text.encode("utf-8"))
        n += 1
    return "".join(out)
