"""OCR of page images (rapidocr-onnxruntime: PP-OCRv4 detection and recognition, models in the wheel).

:func:`ocr_image` returns the page's text lines as :class:`~rag.corpus.layout.Line`
records (box in pixels; the font size from the spacing of the characters), ready for
the same layout analysis as a PDF's text layer. The detector sometimes joins two columns'
lines across a narrow gutter: every character is placed where the recogniser saw it and
the lines are rebuilt from those characters, as from a PDF's, which cuts them at the
gutter. A vertical headline (a stack of large boxes at one x) is cut into squares, one
character each, each recognised on its own: the recogniser reads horizontal text only.

Ruling lines are found in the image too (long straight dark runs) and used like a PDF's.

Results are cached as JSON under ``cache_dir/ocr/<SHA-256 of the page's pixels>.json``,
so a page is never OCR'd twice (re-ingesting a changed file, or the same scan under
two names, reuses them).
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from rag.corpus.layout import Glyph, Line, Rule, em_size, lines_from_glyphs
from rag.text.chars import is_cjk
from rag.errors import InputError

CACHE_VERSION = "rapidocr-1.4.4-v7"  # part of the key: a new engine or reading invalidates the cache
VERTICAL_RATIO = 2.5  # a box this many times taller than wide is a vertical line of text
MIN_SCORE = 0.3


@functools.lru_cache(maxsize=1)
def _engine():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        raise InputError("OCR needs rapidocr-onnxruntime (pip install rapidocr-onnxruntime==1.4.4), or turn OCR off (RAG_OCR=off)") from None
    return RapidOCR()


def page_key(image) -> str:
    digest = hashlib.sha256(CACHE_VERSION.encode())
    digest.update(f"{image.mode}{image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def ocr_image(image, cache_dir: Path | None) -> tuple[list[Line], list[Rule], bool]:
    """The text lines and ruling lines of a page image, and whether they came from the cache."""
    image = image.convert("L")
    key = page_key(image)
    cached = cache_dir / f"{key}.json" if cache_dir else None
    if cached is not None and cached.is_file():
        try:
            data = json.loads(cached.read_text(encoding="utf-8"))
            return [Line(**row) for row in data["lines"]], [Rule(**row) for row in data["rules"]], True
        except (OSError, ValueError, TypeError, KeyError):
            pass  # a damaged cache entry: OCR again
    rules = image_rules(image)
    lines = _recognise(image, rules)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            data = {"lines": [line.__dict__ for line in lines], "rules": [rule.__dict__ for rule in rules]}
            tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
            tmp.replace(cached)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return lines, rules, False


def image_rules(image, min_share: float = 0.06) -> list[Rule]:
    """Ruling lines of a page image: straight dark runs at least ``min_share`` of the page long, a few pixels thick.

    Strokes of characters are far shorter; a photo's grey is not dark enough.
    """
    import numpy as np

    dark = np.asarray(image.convert("L")) < 128
    rules = []
    for vertical in (True, False):
        grid = dark if vertical else dark.T
        length = int(min_share * grid.shape[0])
        segments = []  # (position across, start, end)
        padded = np.zeros((grid.shape[0] + 2, grid.shape[1]), dtype=np.int8)
        padded[1:-1] = grid
        edges = np.diff(padded, axis=0)
        for across in range(grid.shape[1]):
            starts = np.flatnonzero(edges[:, across] == 1)
            ends = np.flatnonzero(edges[:, across] == -1)
            for a, b in zip(starts, ends):
                if b - a >= length:
                    segments.append((across, int(a), int(b)))
        segments.sort()
        merged: list[list[int]] = []  # [first across, last across, start, end]
        for across, a, b in segments:
            if merged and across - merged[-1][1] <= 1 and abs(a - merged[-1][2]) < 4 and abs(b - merged[-1][3]) < 4:
                merged[-1][1] = across
            else:
                merged.append([across, across, a, b])
        for first, last, a, b in merged:
            if last - first > 6:
                continue  # a thick bar: not a rule
            if vertical:
                rules.append(Rule(float(first), float(a), float(last + 1), float(b)))
            else:
                rules.append(Rule(float(a), float(first), float(b), float(last + 1)))
    return rules


def _recognise(image, rules: list[Rule]) -> list[Line]:
    """OCR boxes as lines; a box that runs across a column gutter is cut there (from where
    the recogniser placed each character), and stacks of single large characters become
    one vertical headline."""
    import numpy as np

    engine = _engine()
    pixels = np.array(image.convert("RGB"))
    boxes = []
    for entry in _raw_results(engine, pixels):
        box, text, score = entry[0], str(entry[1]), float(entry[2])
        info = entry[4] if len(entry) > 4 else None
        xs = [p[0] for p in box]
        ys = [p[1] for p in box]
        boxes.append((float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys)), text, score, info))
    heights = sorted(b[3] - b[1] for b in boxes if b[2] - b[0] > 2 * (b[3] - b[1]))
    line_h = heights[len(heights) // 2] if heights else 20.0
    lines, used = _vertical_headlines(engine, pixels, boxes, line_h)
    glyphs = []
    for i, (x0, y0, x1, y1, text, score, info) in enumerate(boxes):
        if i in used or score < MIN_SCORE or not text.strip():
            continue
        found = _glyphs(x0, y0, x1, y1, text, info)
        if not found and x1 - x0 > 4 * (y1 - y0):  # a misread long box: read it again piece by piece
            for a, b, piece in _reread_pieces(engine, pixels, x0, y0, x1, y1):
                found.extend(_glyphs(a, y0, b, y1, piece, None))
        glyphs.extend(found)
    return lines + lines_from_glyphs(glyphs, rules)


def _reread_pieces(engine, pixels, x0, y0, x1, y1) -> list[tuple[float, float, str]]:
    """A box the recogniser misread (usually one the detector ran across a column gutter, too long
    for the recogniser's input): cut at blank stretches as wide as the line is high, each piece read alone."""
    import numpy as np

    h = y1 - y0
    crop = pixels[max(0, int(y0)) : int(y1) + 1, max(0, int(x0)) : int(x1) + 1]
    gray = crop.mean(axis=2) if crop.ndim == 3 else crop
    ink = (gray < 128).sum(axis=0) > 0
    pieces, start, blank = [], None, 0
    for col, inked in enumerate(list(ink) + [False] * int(h + 1)):
        if inked:
            if start is None:
                start = col
            blank = 0
        elif start is not None:
            blank += 1
            if blank >= 0.8 * h:
                pieces.append((start, col - blank + 1))
                start, blank = None, 0
    out = []
    for a, b in pieces:
        if b - a < 0.5 * h:
            continue
        part = np.ascontiguousarray(crop[:, max(0, a - 2) : b + 2])
        result, _ = engine(part, use_det=False, use_cls=False, use_rec=True)
        if result and str(result[0][0]).strip():
            out.append((x0 + a, x0 + b, str(result[0][0])))
    return out


def _raw_results(engine, pixels) -> list:
    """rapidocr's results with each text's raw character positions (``entry[4]``), unconverted."""
    original = engine.cal_rec_boxes

    def keep_raw(images, dt_boxes, rec_res):
        return [[r[0], r[1], None, r[2]] for r in rec_res]

    engine.cal_rec_boxes = keep_raw
    try:
        result, _ = engine(pixels, return_word_box=True)
    finally:
        engine.cal_rec_boxes = original
    return result or []


def _glyphs(x0, y0, x1, y1, text, info) -> list[Glyph]:
    """One glyph per recognised character, placed where the recogniser saw it."""
    chars, centres = [], []
    if info and len(info) >= 3 and info[0]:
        columns, words, word_columns = info[0], info[1], info[2]
        for word, cols in zip(words, word_columns):
            for ch, col in zip(word, cols):
                chars.append(ch)
                centres.append(x0 + (col + 0.5) * (x1 - x0) / columns)
    if not chars or "".join(chars) != "".join(text.split()):
        # no usable positions: spread the characters over the box by their widths
        chars = [ch for ch in text if not ch.isspace()]
        if not chars:
            return []
        weights = [1.0 if _wide(ch) else 0.55 for ch in chars]
        unit = (x1 - x0) / sum(weights)
        centres, left = [], x0
        for w in weights:
            centres.append(left + w * unit / 2)
            left += w * unit
    pitches = sorted(b - a for a, b, c, d in zip(centres, centres[1:], chars, chars[1:])
                     if b > a and _wide(c) and _wide(d))  # digits and Latin letters sit closer
    if len(pitches) >= 2:
        size = max(min(pitches[len(pitches) // 2], 1.3 * (y1 - y0)), 0.5 * (y1 - y0))
    else:  # too few characters to measure their spacing
        size = (y1 - y0) / 1.1
    ems = sum(1.0 if _wide(ch) else 0.55 for ch in chars)
    if ems * size < 0.5 * (x1 - x0):
        return []  # a few characters read over a long box: a misread, and its glyphs would fill a gutter
    glyphs = []
    for ch, cx in zip(chars, centres):
        half = (0.5 if _wide(ch) else 0.27) * size
        glyphs.append(Glyph(ch, cx - half, y0, cx + half, y1, size))
    return glyphs


def _wide(ch: str) -> bool:
    """A full-width character (CJK, full-width punctuation): one em wide."""
    return is_cjk(ch) or not ch.isascii()


def _vertical_headlines(engine, pixels, boxes, line_h: float) -> tuple[list[Line], set[int]]:
    """Stacks of large, about square or tall boxes at one x: vertical headlines, read a character at a time."""
    candidates = [i for i, b in enumerate(boxes)
                  if (b[2] - b[0]) >= 1.3 * line_h and (b[3] - b[1]) >= 0.8 * (b[2] - b[0])]
    candidates.sort(key=lambda i: boxes[i][1])
    used: set[int] = set()
    lines = []
    for i in candidates:
        if i in used:
            continue
        stack = [i]
        for j in candidates:
            if j in used or j in stack:
                continue
            a, b = boxes[stack[-1]], boxes[j]
            w = min(a[2] - a[0], b[2] - b[0])
            # up to about one character missing between two boxes (the detector skipped it)
            if abs((a[0] + a[2]) / 2 - (b[0] + b[2]) / 2) < 0.35 * w and -0.5 * w <= b[1] - a[3] < 1.6 * w and b[1] > a[1]:
                stack.append(j)
        x0 = min(boxes[k][0] for k in stack)
        x1 = max(boxes[k][2] for k in stack)
        y0 = min(boxes[k][1] for k in stack)
        y1 = max(boxes[k][3] for k in stack)
        if y1 - y0 < 2.0 * (x1 - x0):
            continue
        used.update(stack)
        for k, b in enumerate(boxes):  # specks read inside the stack
            if x0 <= (b[0] + b[2]) / 2 <= x1 and y0 <= (b[1] + b[3]) / 2 <= y1:
                used.add(k)
        text = _read_vertical(engine, pixels, x0, y0, x1, y1)
        if text:
            lines.append(Line(text, x0, y0, x1, y1, float(x1 - x0), kind="vhead"))
    return lines, used


def _read_vertical(engine, pixels, x0, y0, x1, y1) -> str:
    """A column of characters, cut where rows without ink separate them, each recognised alone."""
    import numpy as np

    w = x1 - x0
    strip = pixels[int(y0) : int(y1) + 1, max(0, int(x0)) : int(x1) + 1]
    gray = strip.mean(axis=2) if strip.ndim == 3 else strip
    inked = (gray < 128).sum(axis=1) > 0
    runs, start = [], None
    for row, ink in enumerate(list(inked) + [False]):
        if ink and start is None:
            start = row
        elif not ink and start is not None:
            runs.append([start, row])
            start = None
    merged: list[list[int]] = []
    for run in runs:  # a character with gaps inside (二, 三, 旦) is several runs: join up to a square
        if merged and run[1] - merged[-1][0] <= 1.1 * w:
            merged[-1][1] = run[1]
        else:
            merged.append(run)
    pad = int(0.15 * w)
    text = ""
    for top, bottom in merged:
        if bottom - top < 0.25 * w:
            continue  # a speck
        crop = pixels[max(0, int(y0) + top - pad) : int(y0) + bottom + pad, max(0, int(x0) - pad) : int(x1) + pad]
        crop = np.ascontiguousarray(crop)
        result, _ = engine(crop, use_det=False, use_cls=False, use_rec=True)
        if result:
            text += str(result[0][0]).strip()[:1]
    return text
