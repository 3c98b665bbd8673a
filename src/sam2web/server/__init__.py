"""`sam2web serve`: the web app, onnxruntime-web and the model store, from one local origin."""
