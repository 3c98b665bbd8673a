"""`sam2web batch`: segment-everything, prompted segmentation and tracking over many files on Ray.

- inputs.py: INPUT (a folder, a glob, a CSV/JSONL manifest) -> the files, and prompts.jsonl
- ledger.py: the resume record, one atomically written entry per finished file
- workers.py: what one Ray worker does with one file (ONNX Runtime session kept per worker)
- jobs.py: the Ray part (Ray Data map_batches over an actor pool) and the driver's loop
- merge.py: the merged COCO file of all finished files
"""
