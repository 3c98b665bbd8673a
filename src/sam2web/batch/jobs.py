"""Running a batch on Ray: the driver's side.

The files still to do go into a Ray Data dataset (`ray.data.from_items`, one block per file) and
through `map_batches` with `workers.Worker`, a callable class: Ray keeps an actor pool of
`--workers` actors, each holding its ONNX Runtime sessions, and hands each a file at a time
(`concurrency=N`, batch_size 1). Ray is local by default (`ray.init(num_cpus=N)`, no dashboard)
or the cluster at RAY_ADDRESS; on a cluster, every node needs sam2web, the model bundle at the
same path, the inputs and OUT on a shared filesystem.

Workers write a file's outputs into a staging folder (OUT/.sam2web-batch/staging/<run>/...); the
driver alone moves them into place (OUT/<out_rel>/) and records the ledger entry, with Ctrl-C
deferred for that step (interrupts.interrupts_deferred). So an interrupted or killed run leaves
only complete outputs, each with its ledger entry or without one (then it is redone); staging
folders of earlier runs are removed when a run starts.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from sam2web.atomic import write_bytes_atomic
from sam2web.batch.inputs import Item
from sam2web.batch.ledger import STATE_DIR, Ledger, bundle_sha256, canonical_sha256, input_stamp
from sam2web.batch.merge import MERGED_FILE, write_merged
from sam2web.errors import Sam2WebError
from sam2web.interrupts import interrupts_deferred

FAILURES_FILE = "failures.json"


@dataclass
class Batch:
    """command: "segment" | "track"; config: the workers' settings (workers.Worker); params:
    what the outputs depend on besides the bundle and each file's prompts (hashed per file);
    needs_prompts: files with no line in prompts.jsonl are left out (counted, not failed)."""

    command: str
    out_dir: Path
    items: list[Item]
    manifest: object
    config: dict
    params: dict
    workers: int = 1
    gpus_per_worker: float = 0.0
    needs_prompts: bool = False
    failures: list[dict] = field(default_factory=list)

    def coco_of(self, item: Item) -> str:
        name = "tracks.json" if self.command == "track" else "masks.json"
        return f"{item.out_rel}/{name}"


def start_ray(workers: int, gpus: bool) -> bool:
    """Connect to RAY_ADDRESS's cluster, or start a local Ray with `workers` CPUs. -> whether
    this call started it (and should shut it down). An already initialised Ray is used as is."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray's notes at start-up (token authentication is on by default, which is kept; Ray Data's
    # progress bars are off: the CLI has its own) are not for the user of the batch.
    for name in ("ray._private.authentication", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    quiet = dict(logging_level=logging.WARNING, log_to_driver=False)
    if os.environ.get("RAY_ADDRESS"):
        ray.init(**quiet)
    else:
        ray.init(num_cpus=workers, include_dashboard=False, **quiet)
    return True


def _dataset(batch: Batch, tasks: list[dict]):
    import ray
    import ray.data

    from sam2web.batch.workers import Worker

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.enable_auto_log_stats = False
    context.execution_options.preserve_order = False
    rows = [{"task": json.dumps(t)} for t in tasks]
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))
    extra = {"num_gpus": batch.gpus_per_worker} if batch.gpus_per_worker else {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        return ds.map_batches(
            Worker,
            fn_constructor_kwargs={"config": batch.config},
            batch_size=1,
            batch_format="numpy",
            # A fixed pool of N actors, one file in flight each (files take seconds to minutes: a
            # queue per actor would leave others idle at the end).
            compute=ray.data.ActorPoolStrategy(size=batch.workers, max_tasks_in_flight_per_actor=1),
            num_cpus=1,
            # A worker that dies (killed, out of memory, a crash in native code) stops the batch
            # instead of being restarted onto the same file again and again; a rerun goes on from
            # the ledger. (Ray 2.60 has no named parameter for it yet: ray_remote_args.)
            max_restarts=0,
            **extra,
        )


def run(batch: Batch, progress=None) -> dict:
    """Process every file of `batch` not already done; -> the summary. `progress`: an object
    with start(total, skipped), advance(ok: bool) and stop() (the CLI's rich bar), or None.
    One batch at a time per OUT (a lock file; the system releases it if the process dies)."""
    state = batch.out_dir / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    with open(state / "lock", "w") as lock:
        _lock(lock, batch.out_dir)
        return _run(batch, progress)


def _lock(file, out: Path) -> None:
    try:
        import fcntl
    except ImportError:  # Windows has no fcntl: no lock there
        return
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise Sam2WebError(
            f"another sam2web batch is writing to {out}; wait for it or use another --out"
        ) from None


def _run(batch: Batch, progress) -> dict:
    out = batch.out_dir
    state = out / STATE_DIR
    for stale in ("staging", "trash"):
        shutil.rmtree(state / stale, ignore_errors=True)  # left by a killed run
    ledger = Ledger(out)
    bundle = bundle_sha256(batch.manifest)
    run_id = uuid.uuid4().hex[:12]
    staging_root = state / "staging" / run_id
    params_of, todo, skipped, unprompted = {}, [], 0, 0
    for item in batch.items:
        if batch.needs_prompts and item.prompts is None:
            unprompted += 1  # not in prompts.jsonl: not this batch's to do
            continue
        params_of[item.key] = canonical_sha256({**batch.params, "prompts": item.prompts})
        stamp = input_stamp(item.path)
        if ledger.is_done(item.key, bundle, params_of[item.key], stamp):
            skipped += 1
            continue
        target = out / item.out_rel
        if target.exists() and not ledger.owns(item.key, item.out_rel):
            batch.failures.append(
                _failure(item, f"{target} exists and was not written by this batch; remove it")
            )
            continue
        todo.append(item)
    by_key = {item.key: item for item in todo}
    started = time.perf_counter()
    done = failed = 0
    stamps: list[float] = []  # when each result came back
    interrupted = False
    problem = None
    started_ray = False
    if progress is not None:
        progress.start(len(todo), skipped)
    try:
        if todo:
            started_ray = start_ray(batch.workers, bool(batch.gpus_per_worker))
            tasks = [
                {
                    "key": item.key,
                    "path": str(item.path),
                    "staging": str(staging_root / str(i)),
                    "prompts": item.prompts,
                }
                for i, item in enumerate(todo)
            ]
            dataset = _dataset(batch, tasks)
            # Ray Data sets up its loggers on first use: its notes (execution started/finished,
            # progress bars off) are quietened once it has.
            logging.getLogger("ray.data").setLevel(logging.ERROR)
            for row in dataset.iter_rows():
                result = json.loads(str(row["result"]))
                stamps.append(time.perf_counter())
                item = by_key[result["key"]]
                if result["ok"]:
                    _commit(batch, ledger, item, result, bundle, params_of[item.key])
                    done += 1
                else:
                    batch.failures.append(_failure(item, result["reason"]))
                    failed += 1
                if progress is not None:
                    progress.advance(result["ok"])
    except KeyboardInterrupt:
        interrupted = True
    except Exception as exc:  # Ray's: a worker could not start or died
        interrupted = True
        problem = _worker_problem(exc)
    finally:
        if progress is not None:
            progress.stop()
        if started_ray:
            import ray

            ray.shutdown()
    elapsed = time.perf_counter() - started
    finished = [
        (item.key, item.out_rel, batch.coco_of(item))
        for item in batch.items
        if item.key in params_of
        and ledger.is_done(item.key, bundle, params_of[item.key], input_stamp(item.path))
    ]
    with interrupts_deferred():
        batch.failures.sort(key=lambda f: f["file"])
        failures_path = out / FAILURES_FILE
        write_bytes_atomic(failures_path, (json.dumps(batch.failures, indent=1) + "\n").encode())
        merged = write_merged(out, batch.command, finished, complete=not interrupted)
        shutil.rmtree(staging_root, ignore_errors=True)
    batch.failures.sort(key=lambda f: f["file"])
    if problem is not None:
        raise BatchStopped(
            f"the batch stopped: {problem} ({len(finished)} file(s) finished, their outputs are "
            f"complete; a rerun goes on from there)"
        )
    return {
        "command": batch.command,
        "model": batch.manifest.id,
        "bundle_sha256": bundle,
        "workers": batch.workers,
        "total": len(batch.items),
        "skipped": skipped,
        "without_prompts": unprompted,
        "done": done,
        "failed": len(batch.failures),
        "finished": len(finished),
        "seconds": round(elapsed, 3),
        # Over the whole run (Ray's start and the workers' model loading included), and once
        # every worker is up: from the N-th result to the last, N = workers.
        "files_per_s": round(len(stamps) / elapsed, 4) if stamps and elapsed > 0 else None,
        "files_per_s_steady": _steady_rate(stamps, batch.workers),
        "first_result_s": round(stamps[0] - started, 3) if stamps else None,
        "interrupted": interrupted,
        "out": str(out),
        "merged": str(merged),
        "failures_file": str(failures_path),
        "failures": batch.failures,
    }


def _steady_rate(stamps: list[float], workers: int) -> float | None:
    """Results per second after the first `workers` results (each worker's first file carries
    its start-up), None when too few files came back to tell."""
    first = min(workers, len(stamps) - 1)
    if first < 1 or stamps[-1] <= stamps[first - 1]:
        return None
    return round((len(stamps) - first) / (stamps[-1] - stamps[first - 1]), 4)


class BatchStopped(Sam2WebError):
    """Ray could not run the workers (one failed to start or died)."""


def _worker_problem(exc: Exception) -> str:
    """The message of a Sam2WebError raised in a worker (its model could not be loaded, ...),
    else Ray's error in one line."""
    seen = exc
    while seen is not None:
        if isinstance(seen, Sam2WebError):
            return str(seen)
        cause = getattr(seen, "cause", None)
        seen = cause if isinstance(cause, BaseException) else seen.__cause__
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"


def _failure(item: Item, reason: str) -> dict:
    return {"file": item.key, "path": str(item.path), "reason": reason}


def _commit(batch: Batch, ledger: Ledger, item: Item, result: dict, bundle: str, params: str):
    """Move a file's staged outputs to OUT/<out_rel> and record it (Ctrl-C waits for this)."""
    out = batch.out_dir
    staged = Path(result["staging"])
    target = out / item.out_rel
    entry = {
        "key": item.key,
        "file": str(item.path),
        "out_dir": item.out_rel,
        "outputs": [f"{item.out_rel}/{o}" for o in result["outputs"]],
        "coco": batch.coco_of(item),
        "bundle_sha256": bundle,
        "model": batch.manifest.id,
        "params_sha256": params,
        "params": batch.params,
        "input": input_stamp(item.path),
        "seconds": result.get("seconds"),
        "summary": {k: result[k] for k in ("masks", "frames", "width", "height") if k in result},
    }
    trash = out / STATE_DIR / "trash" / uuid.uuid4().hex
    with interrupts_deferred():
        ledger.write({**entry, "state": "committing"})
        if target.exists() or target.is_symlink():
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.rename(target, trash)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staged, target)
        ledger.write({**entry, "state": "done"})
    shutil.rmtree(trash, ignore_errors=True)


__all__ = ["Batch", "run", "start_ray", "FAILURES_FILE", "MERGED_FILE"]
