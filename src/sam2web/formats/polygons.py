"""Masks as polygons and back, for the polygon-based dataset formats (YOLO, LabelMe, CVAT).

Outlines follow pixel edges (the same algorithm as the web app's `tracePolygons` in
web/src/engine/exporters.ts): every side of a mask pixel that borders the outside is a directed
edge with the interior on its right, edges are chained into loops, and only corners are kept, so
a polygon is exact to the pixel. Outer outlines turn clockwise on screen (positive shoelace area
with y pointing down), holes counter-clockwise. YOLO, LabelMe and CVAT polygons cannot carry
holes: `outer_polygons` drops them, so a polygon export fills an object's holes.

Coordinates: the formats put pixel centres on integer coordinates (LabelMe rasterises with PIL,
YOLO's tools with OpenCV's fillPoly), so corners of pixel (x, y) sit at x - 0.5 ... x + 0.5.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def trace_loops(mask: np.ndarray) -> list[list[tuple[int, int]]]:
    """Every boundary loop (outer and hole) as its corner vertices, in pixel-corner coordinates
    (pixel (x, y) spans x..x+1, y..y+1)."""
    bits = np.asarray(mask, bool)
    height, width = bits.shape
    padded = np.pad(bits, 1)
    inside = padded[1:-1, 1:-1]
    # Which sides of each mask pixel border the outside, in the web app's edge order.
    sides = (
        inside & ~padded[:-2, 1:-1],  # top: (x, y) -> (x + 1, y)
        inside & ~padded[1:-1, 2:],  # right: (x + 1, y) -> (x + 1, y + 1)
        inside & ~padded[2:, 1:-1],  # bottom: (x + 1, y + 1) -> (x, y + 1)
        inside & ~padded[1:-1, :-2],  # left: (x, y + 1) -> (x, y)
    )
    steps = (((0, 0), (1, 0)), ((1, 0), (1, 1)), ((1, 1), (0, 1)), ((0, 1), (0, 0)))
    w1 = width + 1
    ys, xs = np.nonzero(inside)  # row-major: the app's scan order
    flags = np.stack([s[ys, xs] for s in sides], axis=1)
    outgoing: dict[int, list[int]] = {}
    for (x, y), pixel_sides in zip(zip(xs.tolist(), ys.tolist(), strict=True), flags, strict=True):
        for k in np.flatnonzero(pixel_sides).tolist():
            (ax, ay), (bx, by) = steps[k]
            outgoing.setdefault((y + ay) * w1 + x + ax, []).append((y + by) * w1 + x + bx)
    loops = []
    while outgoing:
        start = next(iter(outgoing))
        loop = [start]
        v = _take(outgoing, start)
        while v != start:
            loop.append(v)
            nxt = _take(outgoing, v)
            if nxt is None:
                break
            v = nxt
        corners = _corners([(i % w1, i // w1) for i in loop])
        if len(corners) >= 3:
            loops.append(corners)
    return loops


def _take(outgoing: dict[int, list[int]], v: int) -> int | None:
    targets = outgoing.get(v)
    if not targets:
        return None
    target = targets.pop(0)
    if not targets:
        del outgoing[v]
    return target


def _corners(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    n = len(points)
    keep = []
    for i in range(n):
        (px, py), (cx, cy), (qx, qy) = points[i - 1], points[i], points[(i + 1) % n]
        if (cx - px, cy - py) != (qx - cx, qy - cy):
            keep.append((cx, cy))
    return keep


def signed_area(loop) -> float:
    """Shoelace area with y down: positive for outer outlines, negative for holes."""
    xy = np.asarray(loop, float)
    x, y = xy[:, 0], xy[:, 1]
    return float((x * np.roll(y, -1) - np.roll(x, -1) * y).sum() / 2)


def through_centres(loop) -> list[tuple[float, float]]:
    """The outline moved half a pixel inwards: through the centres of the mask's boundary pixels,
    where a rasteriser that includes the outline (PIL, OpenCV) gives the pixels back."""
    n = len(loop)
    out = []
    for i in range(n):
        (px, py), (cx, cy), (qx, qy) = loop[i - 1], loop[i], loop[(i + 1) % n]
        # The right-hand normals (towards the interior) of the edges into and out of this corner.
        d1 = (np.sign(cx - px), np.sign(cy - py))
        d2 = (np.sign(qx - cx), np.sign(qy - cy))
        nx, ny = -d1[1] - d2[1], d1[0] + d2[0]
        point = (float(cx + 0.5 * nx - 0.5), float(cy + 0.5 * ny - 0.5))
        if not out or point != out[-1]:
            out.append(point)
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    # A part one pixel wide collapses to a line or a point: still three vertices, as the formats
    # require of a polygon (rasterised with its outline, it is those pixels).
    while len(out) < 3:
        out.append(out[-1])
    return out


def outer_polygons(mask: np.ndarray) -> list[list[tuple[float, float]]]:
    """One polygon per connected part of the mask (holes filled), in pixel-centre coordinates
    through the boundary pixels' centres, largest first."""
    loops = [loop for loop in trace_loops(mask) if signed_area(loop) > 0]
    loops.sort(key=signed_area, reverse=True)
    return [through_centres(loop) for loop in loops]


def polygons_to_mask(polygons, height: int, width: int) -> np.ndarray:
    """Rasterise pixel-centre polygons as LabelMe does (PIL, outline included)."""
    image = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(image)
    for polygon in polygons:
        if len(polygon) >= 3:
            draw.polygon([(float(x), float(y)) for x, y in polygon], outline=1, fill=1)
    return np.asarray(image, bool)
