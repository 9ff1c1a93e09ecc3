"""OCR of page images (rapidocr-onnxruntime: PP-OCRv4 detection and recognition, models in the wheel).

:func:`ocr_image` returns the page's text lines as :class:`~rag.corpus.layout.Line`
records (box in pixels, the box height as the font size), ready for the same layout
analysis as a PDF's text layer. A vertical headline (a box much taller than wide) is
cut into squares, one character each, and each square is recognised on its own: the
recogniser reads horizontal text only.

Results are cached as JSON under ``cache_dir/ocr/<SHA-256 of the page's pixels>.json``,
so a page is never OCR'd twice (re-ingesting a changed file, or the same scan under
two names, reuses them).
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from rag.corpus.layout import Line
from rag.errors import InputError

CACHE_VERSION = "rapidocr-1.4.4-v1"  # part of the key: a new engine or reading invalidates the cache
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


def ocr_image(image, cache_dir: Path | None) -> tuple[list[Line], bool]:
    """The text lines of a page image, and whether they came from the cache."""
    image = image.convert("L")
    key = page_key(image)
    cached = cache_dir / f"{key}.json" if cache_dir else None
    if cached is not None and cached.is_file():
        try:
            rows = json.loads(cached.read_text(encoding="utf-8"))
            return [Line(**row) for row in rows], True
        except (OSError, ValueError, TypeError):
            pass  # a damaged cache entry: OCR again
    lines = _recognise(image)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(json.dumps([line.__dict__ for line in lines], ensure_ascii=False), encoding="utf-8")
            tmp.replace(cached)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return lines, False


def _recognise(image) -> list[Line]:
    import numpy as np

    engine = _engine()
    pixels = np.array(image.convert("RGB"))
    result, _ = engine(pixels)
    lines = []
    for box, text, score in result or []:
        xs = [p[0] for p in box]
        ys = [p[1] for p in box]
        x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
        w, h = x1 - x0, y1 - y0
        if h > VERTICAL_RATIO * w and w > 4:
            text = _read_vertical(engine, pixels, x0, y0, x1, y1)
            if text:
                lines.append(Line(text, x0, y0, x1, y1, float(w), kind="vhead"))
            continue
        if float(score) < MIN_SCORE or not str(text).strip():
            continue
        lines.append(Line(str(text), float(x0), float(y0), float(x1), float(y1), float(h)))
    return lines


def _read_vertical(engine, pixels, x0, y0, x1, y1) -> str:
    """A column of characters, one per square of the box's width, each recognised alone."""
    w = x1 - x0
    count = max(1, round((y1 - y0) / w))
    step = (y1 - y0) / count
    pad = int(0.1 * w)
    crops = []
    for i in range(count):
        top, bottom = int(y0 + i * step) - pad, int(y0 + (i + 1) * step) + pad
        crops.append(pixels[max(0, top) : bottom, max(0, int(x0) - pad) : int(x1) + pad])
    text = ""
    for crop in crops:
        result, _ = engine(crop, use_det=False, use_cls=False, use_rec=True)
        if result:
            piece = str(result[0][0]).strip()
            text += piece[:1]
    return text
