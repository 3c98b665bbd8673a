"""Static sites: the app and chosen models for any static host (`sam2web build-site`)."""
