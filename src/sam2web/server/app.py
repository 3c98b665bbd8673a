"""The ASGI application: static app files, the model catalogue and content-addressed model files."""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sam2web.manifest import Manifest, describe_bundle
from sam2web.server.headers import SecurityHeadersMiddleware
from sam2web.store import HOW_TO_ADD, ModelStore

STATIC_DIR = Path(__file__).parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# Python's table lacks or mislabels these on some systems; browsers are strict about them.
for _ext, _type in (
    (".wasm", "application/wasm"),
    (".mjs", "text/javascript"),
    (".js", "text/javascript"),
    (".onnx", "application/octet-stream"),
    (".webp", "image/webp"),
    (".avif", "image/avif"),
):
    mimetypes.add_type(_type, _ext)


class AppFiles(StaticFiles):
    """The built app. Vite's hashed assets are immutable; index.html is always revalidated."""

    def file_response(self, full_path, stat_result, scope, status_code=200):
        response = super().file_response(full_path, stat_result, scope, status_code)
        if "/assets/" in str(full_path):
            response.headers["cache-control"] = IMMUTABLE
        else:
            response.headers["cache-control"] = "no-cache"
        return response


def _describe(manifest: Manifest) -> dict:
    """A model as the app reads it: the summary `sam2web models list --json` prints too, the
    whole manifest (version 2, also for a version-1 bundle on disk) and a URL per file role."""
    return {
        **describe_bundle(manifest),
        "manifest": manifest.to_json(),
        "urls": {role: f"/blobs/{entry.sha256}" for role, entry in manifest.files.items()},
    }


def create_app(store: ModelStore, static_dir: Path = STATIC_DIR) -> Starlette:
    if not (static_dir / "index.html").is_file():
        from sam2web.errors import Sam2WebError

        raise Sam2WebError(
            f"the web app is not built ({static_dir} has no index.html): reinstall sam2web "
            "(pip install . builds it with npm) or run `npm ci && npm run build` in web/"
        )

    def blob_index() -> dict[str, Path]:
        # Re-read on each request: models added or removed while serving appear at once.
        return {
            entry.sha256: m.root / entry.path for m in store.list() for entry in m.files.values()
        }

    async def models(request: Request) -> JSONResponse:
        listed = [_describe(m) for m in store.list()]
        # How to add a SAM2 model, while none is installed (the built-in one is not SAM2).
        only_builtin = all(m["builtin"] for m in listed)
        return JSONResponse(
            {
                "models": listed,
                "store": str(store.root),
                "how_to_add": HOW_TO_ADD if only_builtin else None,
            },
            headers={"cache-control": "no-store"},
        )

    async def blob(request: Request) -> FileResponse:
        digest = request.path_params["sha256"]
        path = blob_index().get(digest) if _SHA256.match(digest) else None
        if path is None or not path.is_file():
            raise HTTPException(404, "no such model file")
        # Content-addressed: the URL names the bytes, so they can be cached forever.
        return FileResponse(
            path, media_type="application/octet-stream", headers={"cache-control": IMMUTABLE}
        )

    app = Starlette(
        routes=[
            Route("/api/models", models),
            Route("/blobs/{sha256}", blob),
            Mount("/", AppFiles(directory=static_dir, html=True)),
        ]
    )
    app.add_middleware(SecurityHeadersMiddleware)
    return app
