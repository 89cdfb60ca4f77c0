"""Finding a template sheet in a photo or scan: where each box is, and which character it holds.

OS1's own template is found by its four corner marks; their positions fix the page's
perspective exactly, and the code squares between the bottom marks name the page. A builtree
sheet has no marks: a contour search finds its boxes, and the grid's shape names the layout.
Either way the result is each box's four corners in the image, so capture can undo the
perspective box by box.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
from PIL import Image, UnidentifiedImageError

from os1.errors import UserInputError
from os1.handwriting.layouts import (
    BASELINE,
    BOX,
    CODE_AT,
    GRIDS,
    Grid,
    TemplatePage,
    decode_bits,
    page_by_code,
)

#: Resolution at which PDF pages are rendered.
PDF_DPI = 150
#: Longest side an image is reduced to before the search (phone photos can be huge).
MAX_SIDE = 3000
#: The largest image read, in pixels (a 100-megapixel photo is more than any sheet needs).
MAX_PIXELS = 120_000_000
_TOO_BIG = f"too large for a photo of a sheet (at most {MAX_PIXELS // 1_000_000} megapixels)"
#: Most pages read from one PDF (OS1's template has at most three).
MAX_PDF_PAGES = 20


@dataclass
class Found:
    """A sheet found in an image: each box's character (``None``: ignore) and corners (tl, tr,
    br, bl), ``missing`` characters whose box was not seen but whose place was inferred from the
    grid, and where the printed baseline lies in a box (fraction from the top), if it has one."""

    layout: str
    boxes: list[tuple[str | None, np.ndarray]]
    missing: list[str] = field(default_factory=list)
    baseline: float | None = None


def load_pages(path: Path) -> list[np.ndarray]:
    """The RGB pages of an image file, or of a PDF."""
    if path.suffix.lower() == ".pdf":
        return _render_pdf(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise UserInputError(f"{path}: {width}x{height} pixels; {_TOO_BIG}")
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced size
                rgb = np.asarray(image.convert("RGB"))
    except Image.DecompressionBombError as exc:
        raise UserInputError(f"{path}: {_TOO_BIG}") from exc
    except UnidentifiedImageError as exc:
        raise UserInputError(f"{path}: not an image (PNG, JPEG, ...) or a PDF") from exc
    except PermissionError as exc:
        raise UserInputError(f"{path}: cannot read it ({exc.strerror})") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow knew the format, not the data
        raise UserInputError(f"{path}: the image is truncated or damaged ({exc})") from exc
    scale = MAX_SIDE / max(rgb.shape[:2])
    if scale < 1:
        rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return [rgb]


def _render_pdf(path: Path) -> list[np.ndarray]:
    """Every page of a PDF as RGB at ``PDF_DPI``, rendered by PDFium."""
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise UserInputError(f"{path}: not a PDF that can be read ({exc})") from exc
    try:
        if len(document) > MAX_PDF_PAGES:
            raise UserInputError(f"{path}: more than {MAX_PDF_PAGES} pages")
        pages = []
        for page in document:
            width, height = page.get_size()  # points
            scale = min(PDF_DPI / 72, MAX_SIDE / max(width, height, 1.0))
            pages.append(np.asarray(page.render(scale=scale).to_pil().convert("RGB")))
        return pages
    finally:
        document.close()


def find_sheet(rgb: np.ndarray) -> Found | None:
    """The template sheet in ``rgb``, or ``None`` if there is none."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return _find_template(gray) or _find_grid(gray)


def _block(gray: np.ndarray, parts: int) -> int:
    """The neighbourhood of an adaptive threshold: an odd share ``1/parts`` of the image's
    longest side, and at least 3 pixels (OpenCV's least), so a tiny image has one too."""
    return max(3, (int(max(gray.shape)) // parts) | 1)


# -- OS1's template --------------------------------------------------------------------------
def _find_template(gray: np.ndarray) -> Found | None:
    marks = _marks(gray)
    if marks is None:
        return None
    block = _block(gray, 8)
    ink = cv2.adaptiveThreshold(
        gray, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 25
    )
    for turn in range(4):  # the photo may be turned: try each mark as the top-left one
        corners = np.roll(marks, -turn, axis=0)
        page = _read_code(ink, corners)
        if page is not None:
            return _template_boxes(page, corners)
    return None


def _marks(gray: np.ndarray) -> np.ndarray | None:
    """The centres of four filled squares nearest the image's corners: tl, tr, br, bl."""
    blurred = cv2.GaussianBlur(gray, (5, 5), 0)
    block = _block(gray, 8)
    binv = cv2.adaptiveThreshold(
        blurred, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 25
    )
    contours, _ = cv2.findContours(binv, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    least = (0.008 * max(gray.shape)) ** 2
    found = []
    for contour in contours:
        area = cv2.contourArea(contour)
        if area < least:
            continue
        (cx, cy), (w, h), _ = cv2.minAreaRect(contour)
        if not 0.7 < w / max(h, 1) < 1.4 or area < 0.85 * w * h:
            continue
        x, y, bw, bh = cv2.boundingRect(contour)
        if binv[y : y + bh, x : x + bw].mean() < 0.8 * 255:  # a box's outline, not a mark
            continue
        found.append((area, cx, cy))
    if len(found) < 4:
        return None
    biggest = max(a for a, _, _ in found)
    points = np.array([(x, y) for a, x, y in found if a > 0.4 * biggest], dtype=np.float32)
    s, d = points.sum(axis=1), points[:, 0] - points[:, 1]
    picks = [int(s.argmin()), int(d.argmax()), int(s.argmax()), int(d.argmin())]
    if len(set(picks)) < 4:
        return None
    return points[picks]


def _read_code(ink: np.ndarray, corners: np.ndarray) -> TemplatePage | None:
    unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float32)
    to_image = cv2.getPerspectiveTransform(unit, corners.astype(np.float32))
    cells = np.array([[[at, 1.0] for at in CODE_AT]], dtype=np.float32)
    spots = cv2.perspectiveTransform(cells, to_image)[0]
    span = float(np.linalg.norm(corners[2] - corners[3]))
    r = max(1, round(span * 0.004))
    bits = []
    for x, y in spots:
        xi, yi = round(float(x)), round(float(y))
        patch = ink[max(0, yi - r) : yi + r + 1, max(0, xi - r) : xi + r + 1]
        bits.append(int(patch.size > 0 and patch.mean() > 0.5))
    code = decode_bits(tuple(bits))
    return None if code is None else page_by_code(code)


def _template_boxes(page: TemplatePage, corners: np.ndarray) -> Found:
    marks = np.array(page.marks(), dtype=np.float32)
    to_image = cv2.getPerspectiveTransform(marks, corners.astype(np.float32))
    square = np.array([[0, 0], [BOX, 0], [BOX, BOX], [0, BOX]], dtype=np.float32)
    boxes: list[tuple[str | None, np.ndarray]] = []
    for char, left, top in page.boxes:
        quad = (square + np.array([left, top], np.float32)).reshape(1, 4, 2)
        boxes.append((char, cv2.perspectiveTransform(quad, to_image)[0]))
    return Found(page.name, boxes, baseline=BASELINE)


# -- builtree grids --------------------------------------------------------------------------
def _find_grid(gray: np.ndarray) -> Found | None:
    quads = _box_quads(gray)
    if len(quads) < 12:
        return None
    centres = quads.mean(axis=1)
    edge = quads[:, 1] - quads[:, 0]
    angle = float(np.median(np.arctan2(edge[:, 1], edge[:, 0])))
    c, s = np.cos(-angle), np.sin(-angle)
    upright = centres @ np.array([[c, s], [-s, c]], dtype=np.float64)
    side = float(np.median(np.linalg.norm(edge, axis=1)))
    rows, cols = _clusters(upright[:, 1], side), _clusters(upright[:, 0], side)
    grid = next((g for g in GRIDS if (g.cols, g.rows) == (cols.max() + 1, rows.max() + 1)), None)
    if grid is None:
        return None
    return _grid_boxes(grid, quads, rows, cols)


def _box_quads(gray: np.ndarray) -> np.ndarray:
    """Corners (tl, tr, br, bl) of the square boxes of the commonest size, outer outline only."""
    w = gray.shape[1]
    block = _block(gray, 40)
    binv = cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 10
    )
    contours, _ = cv2.findContours(binv, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    quads, areas = [], []
    for contour in contours:
        area = cv2.contourArea(contour)
        if not (0.03 * w) ** 2 < area < (0.25 * w) ** 2:
            continue
        approx = cv2.approxPolyDP(contour, 0.03 * cv2.arcLength(contour, True), True)
        _, _, bw, bh = cv2.boundingRect(approx)
        if len(approx) == 4 and cv2.isContourConvex(approx) and 0.8 < bw / bh < 1.25:
            quads.append(_order(approx.reshape(4, 2).astype(np.float64)))
            areas.append(area)
    if not quads:
        return np.zeros((0, 4, 2))
    median = float(np.median(areas))
    keep = [(a, q) for a, q in zip(areas, quads, strict=True) if 0.6 < a / median < 1.5]
    keep.sort(key=lambda aq: -aq[0])
    chosen: list[np.ndarray] = []
    for _, quad in keep:  # the outer outline of a box comes first; drop its inner one
        if all(np.linalg.norm(quad.mean(0) - q.mean(0)) > 0.3 * np.sqrt(median) for q in chosen):
            chosen.append(quad)
    return np.array(chosen)


def _order(points: np.ndarray) -> np.ndarray:
    s, d = points.sum(axis=1), points[:, 0] - points[:, 1]
    return points[[s.argmin(), d.argmax(), s.argmax(), d.argmin()]]


def _clusters(values: np.ndarray, side: float) -> np.ndarray:
    """Index of each value's cluster (in increasing order), splitting at gaps over half a box."""
    order = np.argsort(values)
    labels = np.zeros(len(values), dtype=int)
    gaps = np.diff(values[order]) > 0.5 * side
    labels[order] = np.concatenate([[0], np.cumsum(gaps)])
    return labels


def _grid_boxes(grid: Grid, quads: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> Found | None:
    """Each cell's box: the one found there, or one placed by the grid's fit to the others."""
    at = {(int(r), int(c)): q for r, c, q in zip(rows, cols, quads, strict=True)}
    seen = np.array([(c, r) for r, c in at], dtype=np.float64)
    centres = np.array([q.mean(axis=0) for q in at.values()])
    fit, _ = cv2.findHomography(seen, centres, cv2.RANSAC, 0.2 * _side(quads))
    if fit is None:
        return None
    offsets = np.median(quads - quads.mean(axis=1, keepdims=True), axis=0)
    boxes: list[tuple[str | None, np.ndarray]] = []
    missing: list[str] = []
    for i, char in enumerate(grid.cells):
        r, c = divmod(i, grid.cols)
        quad = at.get((r, c))
        if quad is None:
            centre = cv2.perspectiveTransform(np.array([[[c, r]]], dtype=np.float64), fit)[0, 0]
            quad = centre + offsets
            if char is not None:
                missing.append(char)
        boxes.append((char, quad))
    return Found(grid.name, boxes, missing)


def _side(quads: np.ndarray) -> float:
    return float(np.median(np.linalg.norm(quads[:, 1] - quads[:, 0], axis=1)))
