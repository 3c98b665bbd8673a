"""Masks as polygons and back, for the polygon-based dataset formats (YOLO, LabelMe, CVAT).

Outlines follow pixel edges (the same algorithm as the web app's `tracePolygons` in
web/src/engine/exporters.ts): every side of a mask pixel that borders the outside is a directed
edge with the interior on its right, edges are chained into loops, and only corners are kept, so
a polygon is exact to the pixel. Outer outlines turn clockwise on screen (positive shoelace area
with y pointing down), holes counter-clockwise. Parts are 4-connected: pixels that touch only at
a corner get outlines of their own (the right turn there). YOLO, LabelMe and CVAT polygons cannot
carry holes: `outer_polygons` drops them, so a polygon export is the mask with its holes filled
(a hole: background that a part encloses, i.e. not 8-connected to the outside:
`scipy.ndimage.binary_fill_holes(mask, structure=np.ones((3, 3)))`), exactly, as `polygons_to_mask`
and LabelMe draw it.

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
        v = _take(outgoing, start, None, w1)
        while v != start:
            loop.append(v)
            nxt = _take(outgoing, v, loop[-2], w1)
            if nxt is None:
                break
            v = nxt
        corners = _corners([(i % w1, i // w1) for i in loop])
        if len(corners) >= 3:
            loops.append(corners)
    return loops


def _take(outgoing: dict[int, list[int]], v: int, came_from: int | None, w1: int) -> int | None:
    """The edge out of `v` to follow. Where two mask pixels touch only at `v` (two edges leave
    it), the right turn: the outline keeps to the pixel it came along, so each 4-connected part
    gets its own simple outline, whichever edge reached `v` first."""
    targets = outgoing.get(v)
    if not targets:
        return None
    k = 0
    if len(targets) > 1 and came_from is not None:
        dx, dy = v % w1 - came_from % w1, v // w1 - came_from // w1
        for i, t in enumerate(targets):
            ox, oy = t % w1 - v % w1, t // w1 - v // w1
            if dx * oy - dy * ox > 0:  # a right turn, with y pointing down
                k = i
    target = targets.pop(k)
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
