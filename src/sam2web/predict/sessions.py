"""The model: one ONNX Runtime session per file role of a bundle. Every session run happens in
`Sessions.run` (the counterpart of the browser engine's sessions in web/src/engine/runtime.ts)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from sam2web.errors import BadBundleError
from sam2web.manifest import Manifest


class Sessions:
    """Sessions for `roles` of the bundle, made at once so a bundle ONNX Runtime cannot load fails
    here with a clear message. providers: ONNX Runtime execution providers (default: CPU);
    threads: intra-op threads (default: ONNX Runtime's choice)."""

    def __init__(
        self, manifest: Manifest, roles: Iterable[str], providers=None, threads: int | None = None
    ):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # ORT's shape-merge warnings are noise to a user
        if threads:
            options.intra_op_num_threads = threads
        self.providers = list(providers or ["CPUExecutionProvider"])
        self.manifest = manifest
        self._sessions = {}
        for role in roles:
            path = manifest.path_of(role)
            try:
                self._sessions[role] = ort.InferenceSession(
                    str(path), options, providers=self.providers
                )
            except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
                raise BadBundleError(
                    f"bundle {manifest.id}: ONNX Runtime cannot load it ({path.name}: {exc})"
                ) from None

    @property
    def roles(self) -> list[str]:
        return list(self._sessions)

    def input_names(self, role: str) -> list[str]:
        return [i.name for i in self._sessions[role].get_inputs()]

    def input_shape(self, role: str, name: str) -> list:
        """The declared shape of one input (ints, or names for dynamic axes)."""
        return next(i.shape for i in self._sessions[role].get_inputs() if i.name == name)

    def output_names(self, role: str) -> list[str]:
        return [o.name for o in self._sessions[role].get_outputs()]

    def run(
        self, role: str, feeds: dict[str, np.ndarray], outputs: list[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Run the `role` graph on `feeds`; -> the named outputs (all of them by default)."""
        names = outputs if outputs is not None else self.output_names(role)
        return dict(zip(names, self._sessions[role].run(names, feeds), strict=True))
