"""Dataset formats that labelling and training tools read: COCO (RLE), YOLO segmentation, LabelMe
JSON and CVAT XML, written from masks and (COCO, LabelMe) read back into masks.

Every format works on `ImageAnnotations`: one image's name, size and labelled masks."""

from sam2web.formats.objects import ImageAnnotations, LabelledMask

__all__ = ["ImageAnnotations", "LabelledMask"]
