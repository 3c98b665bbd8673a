// Where a tracked frame's time goes in the worker, stage by stage (benchmarks read it from each
// frame's result). On WebGPU a graph's stage is the time until its run returned: graphs whose
// outputs stay on the GPU return before the GPU is done, and the next readback waits for them.

export const STAGES = ['frame', 'preprocess', 'encoder', 'memory_attention', 'decoder', 'memory_encoder', 'postprocess'] as const;
export type Stage = (typeof STAGES)[number];
export type StageTimes = Partial<Record<Stage, number>>;

/** Graph roles -> the stage they count in. */
const ROLE_STAGES: Record<string, Stage> = { video_decoder: 'decoder' };

export class StageClock {
  private times: StageTimes = {};
  /** Profiling: waits for the GPU after each graph run, so each graph's stage is its own GPU
   * time (and the run as a whole slower). null: no waiting. */
  sync: (() => Promise<void>) | null = null;

  add(stage: Stage, ms: number): void {
    this.times[stage] = (this.times[stage] ?? 0) + ms;
  }

  async time<T>(stage: Stage, work: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      this.add(stage, performance.now() - t0);
    }
  }

  /** A graph run, counted in its role's stage. */
  run<T>(role: string, work: () => Promise<T>): Promise<T> {
    return this.time(ROLE_STAGES[role] ?? (role as Stage), async () => {
      const out = await work();
      if (this.sync) await this.sync();
      return out;
    });
  }

  /** The times since the last take (ms per stage), and a fresh start. */
  take(): StageTimes {
    const times = this.times;
    this.times = {};
    return times;
  }
}

/** Per-stage medians of some frames' times (and of their totals, `total`). */
export function medianStages(frames: { ms: number; stages: StageTimes }[]): Partial<Record<Stage | 'total', number>> {
  const median = (values: number[]) => {
    const v = [...values].sort((a, b) => a - b);
    return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const out: Partial<Record<Stage | 'total', number>> = {};
  if (!frames.length) return out;
  for (const stage of STAGES) {
    const values = frames.map((f) => f.stages[stage]).filter((v): v is number => v !== undefined);
    if (values.length) out[stage] = median(values);
  }
  out.total = median(frames.map((f) => f.ms));
  return out;
}
