// The memory bank's spatial memories on the GPU (WebGPU backend): each memory encoder output is
// copied into a buffer the bank owns, rounded to bf16 values there (as torch's `.to(bfloat16)`,
// the same rounding as memory.ts toBf16), and the frames a step attends to are concatenated on
// the GPU into the memory attention's input. Nothing of the bank crosses to the CPU.

import { runtime, type Tensor } from '../runtime';

/** One frame's memory [64, 64, 64] in a GPU buffer, bf16 values stored as float32. */
export interface GpuMemory {
  readonly buffer: GPUBuffer;
  readonly floats: number;
  readonly byteLength: number;
}

const ROUND_TO_BF16 = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> data: array<u32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x + id.y * 65535u * 256u;
  if (i >= arrayLength(&data)) { return; }
  let b = data[i];
  if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x007fffffu) != 0u) {
    data[i] = 0x7fc00000u; // NaN stays NaN
    return;
  }
  data[i] = (b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u; // round to nearest even
}`;

/** A GPU memory, not bf16 bits in worker memory (a typed array has a `buffer` too). */
export const isGpuMemory = (m: unknown): m is GpuMemory => typeof m === 'object' && m !== null && !ArrayBuffer.isView(m) && 'buffer' in m;

export class GpuMemories {
  private readonly pipeline: GPUComputePipeline;
  /** Buffers alive now (leak checks). */
  live = 0;

  constructor(private readonly device: GPUDevice) {
    this.pipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code: ROUND_TO_BF16 }), entryPoint: 'main' },
    });
  }

  /** Keeps a memory encoder output (a GPU tensor, disposed here) as a bf16-rounded memory. */
  keep(output: Tensor): GpuMemory {
    const floats = output.dims.reduce((a, b) => a * b, 1);
    const byteLength = floats * 4;
    const buffer = this.device.createBuffer({
      size: byteLength,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.live++;
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(output.gpuBuffer as GPUBuffer, 0, buffer, 0, byteLength);
    const pass = encoder.beginComputePass();
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(
      0,
      this.device.createBindGroup({ layout: this.pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer } }] }),
    );
    const groups = Math.ceil(floats / 256);
    pass.dispatchWorkgroups(Math.min(groups, 65535), Math.ceil(groups / 65535));
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    output.dispose();
    return { buffer, floats, byteLength };
  }

  /** The memories one after another, as one float32 tensor of `dims` (released by the caller). */
  stack(memories: GpuMemory[], dims: number[]): { tensor: Tensor; release(): void } {
    const size = memories.reduce((n, m) => n + m.byteLength, 0);
    const buffer = this.device.createBuffer({
      size: Math.max(size, 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    const encoder = this.device.createCommandEncoder();
    let at = 0;
    for (const m of memories) {
      encoder.copyBufferToBuffer(m.buffer, 0, buffer, at, m.byteLength);
      at += m.byteLength;
    }
    this.device.queue.submit([encoder.finish()]);
    const tensor = runtime().Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims });
    return {
      tensor,
      release: () => {
        tensor.dispose();
        buffer.destroy();
      },
    };
  }

  release(memory: GpuMemory): void {
    memory.buffer.destroy();
    this.live--;
  }
}
