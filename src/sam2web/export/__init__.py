"""Export official SAM2 / SAM2.1 checkpoints to web-ready ONNX bundles (needs `sam2web[export]`)."""
