"""Right-to-left writing: Hebrew, Arabic and the like, alone or mixed with left-to-right words.

The layout (:mod:`os1.handwriting.layout`) breaks lines in the text's own (logical) order, as
the Unicode bidirectional algorithm does, and this module says how each line is then shown:

* **A paragraph's direction** is that of its first strong letter (python-bidi's
  ``get_base_level``): a paragraph that opens in Hebrew or Arabic runs from the right margin.
* **Inside a word**, python-bidi's ``get_display`` puts the letters in the order they are seen,
  and brackets in a right-to-left word are mirrored (``(`` written as ``)``), as the algorithm's
  rule L4 asks.
* **Word order** follows the algorithm's levels, with each word one unit (:func:`word_levels`):
  a right-to-left word is at level 1, a left-to-right word at the paragraph's level rounded up
  to even (0, or 2 in a right-to-left paragraph), a number at the next level above a
  right-to-left context, and a word with no strong letter (a dash, a number's sign) takes the
  direction its neighbours agree on, else the paragraph's. Rule L2 then reverses each run of
  words at a level or higher, highest first (:func:`reordered`): done on the page, a run is
  mirrored within its own span, so each word keeps its gaps.
* **Arabic letters are joined** before anything else: arabic-reshaper turns each letter into
  its initial, medial, final or isolated form (the presentation forms), which the fallback
  fonts draw.

A word mixing directions (Latin letters run into Hebrew ones) is shown as python-bidi orders
it; where such a word must break across lines, its pieces are cut in the order it is seen.
Only the text's characters are looked at, so this holds for every hand.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import arabic_reshaper
from bidi import get_base_level, get_display

#: Characters of right-to-left scripts: Hebrew (R) and Arabic letters (AL).
RIGHT_TO_LEFT = frozenset({"R", "AL"})
#: Numbers: European and Arabic-Indic digits and what joins them.
NUMBER = frozenset({"EN", "AN"})
#: Mirrored pairs drawn the other way round in right-to-left text.
MIRRORED = dict(zip("()[]{}<>«»\u2039\u203a", ")(][}{><»«\u203a\u2039", strict=True))


def has_right_to_left(text: str) -> bool:
    """Whether ``text`` holds a letter of a right-to-left script."""
    return any(unicodedata.bidirectional(c) in RIGHT_TO_LEFT for c in text)


def shaped(line: str) -> str:
    """``line`` with its Arabic letters in their joined forms (unchanged without any)."""
    if not any(unicodedata.bidirectional(c) == "AL" for c in line):
        return line
    return str(arabic_reshaper.reshape(line))


def right_to_left(paragraph: str) -> bool:
    """Whether ``paragraph`` runs from the right: its first strong letter is right-to-left."""
    return bool(has_right_to_left(paragraph) and get_base_level(paragraph) == 1)


def _strong(word: str) -> str:
    """``R`` or ``L`` by the word's first strong letter, ``N`` for a number, ``-`` for none."""
    number = False
    for char in word:
        kind = unicodedata.bidirectional(char)
        if kind in RIGHT_TO_LEFT:
            return "R"
        if kind == "L":
            return "L"
        number = number or kind in NUMBER
    return "N" if number else "-"


def visual(word: str, paragraph_rtl: bool) -> str:
    """The word's characters in the order they are seen, brackets mirrored in a
    right-to-left word; the word itself when it holds nothing right-to-left."""
    if not has_right_to_left(word):
        return word
    seen = str(get_display(word, base_dir="R" if paragraph_rtl else "L"))
    if _strong(word) == "R":
        seen = "".join(MIRRORED.get(c, c) for c in seen)
    return seen


def word_levels(words: Sequence[str], paragraph_rtl: bool) -> list[int]:
    """Each word's embedding level, the word a unit (see the module)."""
    kinds = [_strong(w) for w in words]
    base = 1 if paragraph_rtl else 0
    # Numbers count as right-to-left when the neutrals between strong words are resolved (N1).
    strong = ["R" if k == "N" else k for k in kinds]
    levels = []
    for i, kind in enumerate(kinds):
        if kind == "-":
            before = next((s for s in reversed(strong[:i]) if s != "-"), None)
            after = next((s for s in strong[i + 1 :] if s != "-"), None)
            kind = before if before is not None and before == after else ("R" if base else "L")
        if kind == "R":
            levels.append(1)
        elif kind == "L":
            levels.append(base + base % 2)
        else:  # a number: above the level of what it stands in
            context = _context(kinds, i, base)
            levels.append(2 if context == "R" else base + base % 2)
    return levels


def _context(kinds: Sequence[str], i: int, base: int) -> str:
    """The direction a number at ``i`` stands in: the strong letter before it, else the
    paragraph's (rule W2 looks back to the last strong letter)."""
    before = next((k for k in reversed(kinds[:i]) if k in "RL"), None)
    return before or ("R" if base else "L")


def reordered(
    spans: Sequence[tuple[float, float]],
    levels: Sequence[int],
    line: tuple[float, float] | None = None,
) -> list[float]:
    """How far to move each word, given each one's span (left and right edges, as written left
    to right in the text's order) and level: every run of words at a level or higher is
    mirrored within its own span, highest level first (rule L2). In a right-to-left paragraph
    (``line``, the line's own left and right ends, given) the whole line is mirrored across
    those ends, so it runs from the right margin."""
    if not spans:
        return []
    lefts = [left for left, _ in spans]
    widths = [right - left for left, right in spans]
    for level in range(max(levels), 0, -1):
        i = 0
        while i < len(spans):
            if levels[i] < level:
                i += 1
                continue
            j = i
            while j + 1 < len(spans) and levels[j + 1] >= level:
                j += 1
            whole = level == 1 and line is not None and i == 0 and j == len(spans) - 1
            low, high = line if whole and line else (lefts[i], lefts[j] + widths[j])
            for k in range(i, j + 1):
                lefts[k] = low + high - (lefts[k] + widths[k])
            i = j + 1
    return [new - old for new, (old, _) in zip(lefts, spans, strict=True)]
