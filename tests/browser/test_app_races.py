"""Edits while a decode is still running (held in the worker, as behind a slow GPU): each mask
must land on the object and the prompts it was decoded for, whatever happened meanwhile."""

from __future__ import annotations

import pytest

from sam2web.predict.predictor import Predictor

from app_driver import AppPage, iou
from replay import replay


@pytest.fixture(scope="module")
def predictor(fp32_bundle, photo_files):
    p = Predictor.from_bundle(fp32_bundle)
    p.set_image(photo_files["coffee"])
    return p


@pytest.fixture
def app(plain_browser, server, photo_files):
    ctx = plain_browser.new_context(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    app = AppPage(ctx.new_page(), server.url).open()
    app.upload(photo_files["coffee"])
    yield app
    ctx.close()


def _steps(obj):
    return [("point", x, y, label) for x, y, label in obj["points"]]


def test_undo_during_a_decode_then_redo_shows_the_mask_of_those_prompts(app, predictor):
    app.click(0.5, 0.5)
    app.hold_decodes(True)
    discarded = app._data("discarded")
    app.click_now(0.35, 0.4)  # its decode waits in the worker...
    app.wait_until(lambda: len(app.objects()[0]["points"]) == 2, "the second point is shown")
    two_points = app.objects()[0]
    assert two_points["current"] is False  # its mask is still being decoded
    app.page.click("#undo")  # ...while the click is undone
    assert len(app.objects()[0]["points"]) == 1
    rendered = app._data("rendered")
    app.hold_decodes(False)
    app._wait_change("discarded", discarded)  # the result came for prompts no longer shown
    app._wait_change("rendered", rendered)
    one_point = app.objects()[0]
    assert one_point["current"] is True
    expected, _, _ = replay(predictor, _steps(one_point))
    assert iou(app.mask(), expected) >= 0.99  # the undone click's mask did not replace it

    app.press("redo")
    redone = app.objects()[0]
    assert len(redone["points"]) == 2 and redone["current"] is True
    expected, _, score = replay(predictor, _steps(redone))
    assert iou(app.mask(), expected) >= 0.99  # the mask decoded for these two points
    assert redone["scores"][redone["chosen"]] == pytest.approx(score, abs=1e-3)


def test_a_hover_preview_never_displaces_a_waiting_click(app, predictor):
    app.page.select_option("#hover-preview", "on")
    app.hold_decodes(True)
    app.click_now(0.5, 0.5)  # decoding (held)...
    app.click_now(0.3, 0.6)  # ...and this one waits behind it
    app.wait_until(lambda: len(app.objects()[0]["points"]) == 2, "both points are shown")
    previews = app._data("previews")
    app.hover(0.7, 0.3)  # a preview asked for while the second click waits
    app.hold_decodes(False)
    app.wait_until(lambda: app.objects()[0]["current"], "the second click's mask arrives")
    obj = app.objects()[0]
    expected, _, score = replay(predictor, _steps(obj))
    assert iou(app.mask(), expected) >= 0.99
    assert obj["scores"][obj["chosen"]] == pytest.approx(score, abs=1e-3)
    app.hover(0.6, 0.35)
    app.wait_until(lambda: app._data("previews") != previews, "previews still work")


def test_clicks_on_two_objects_while_decoding_each_get_their_own_mask(app, predictor):
    app.hold_decodes(True)
    app.click_now(0.5, 0.5)
    app.wait_until(lambda: len(app.objects()[0]["points"]) == 1, "the first point is shown")
    app.new_object()
    app.click_now(0.2, 0.2)
    app.wait_until(
        lambda: len(app.objects()) == 2 and len(app.objects()[1]["points"]) == 1,
        "the second object's point is shown",
    )
    app.hold_decodes(False)
    app.wait_until(
        lambda: all(o["current"] and o["scores"] for o in app.objects()), "both masks arrive"
    )
    for index, obj in enumerate(app.objects()):
        app.page.locator("#object-list li").nth(index).click()
        expected, _, _ = replay(predictor, _steps(obj))
        assert iou(app.mask(), expected) >= 0.99, index


def test_a_click_on_the_previewed_point_takes_the_previews_mask(app, predictor):
    """Hover, then click without moving: the preview already decoded that very prompt, so the
    click shows its mask without a second decoder run (and never waits behind it)."""
    app.page.select_option("#hover-preview", "on")
    x, y = app._to_page(0.45, 0.55)
    previews = app._data("previews")
    app.page.mouse.move(x, y)  # one move: one preview, at this point
    app.wait_until(lambda: app._data("previews") != previews, "the preview is shown")
    app.wait_until(lambda: app._data("decodes"), "a decode was counted")
    decodes = app._data("decodes")
    paints = app._data("paints")
    app.page.mouse.down()
    app.page.mouse.up()
    app.wait_until(lambda: app._data("paints") != paints, "the click's mask is painted")
    assert app._data("decodes") == decodes  # no decoder run for the click itself
    obj = app.objects()[0]
    expected, _, score = replay(predictor, _steps(obj))
    assert iou(app.mask(), expected) >= 0.99
    assert obj["scores"][obj["chosen"]] == pytest.approx(score, abs=1e-3)

    paints = app._data("paints")
    app.click(0.3, 0.3)  # elsewhere: decoded as usual
    assert int(app._data("decodes")) > int(decodes)
    obj = app.objects()[0]
    expected, _, _ = replay(predictor, _steps(obj))
    assert iou(app.mask(), expected) >= 0.99
