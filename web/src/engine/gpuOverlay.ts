// Mask overlays drawn with WebGPU straight onto the page: the worker owns the stage's overlay
// canvas (an OffscreenCanvas the page handed over) and draws every object's mask into it from
// 256x256 logits held in GPU buffers. On a graph-captured click the logits never leave the GPU:
// the decoder's output buffer is picked from (best candidate by score, on the GPU) and drawn in
// the same queue, so the mask is on screen at the next frame with no readback and no round trip
// to the page (benchmarks/results/browser-h200/ shows where a click's time went without this).
// The same bilinear taps, threshold, fill and contour as maskRenderer.ts (WebGL2) and
// imageOps.ts (JavaScript), in the same order.

import { longestSideShape } from './imageOps';
import type { Mapping } from './maskRenderer';
import type { MaskStyle } from './protocol';

const LOW = 256 * 256;
const PARAMS_BYTES = 64;

const SHADER = /* wgsl */ `
struct Params {
  image: vec2<i32>,    // width, height
  cropped: vec2<i32>,  // SAM1: the unpadded size inside size x size
  mode: i32,           // 0: squash (SAM2), 1: longest side + pad (SAM1)
  size: i32,           // SAM1: the model's input size
  fill: u32,
  contour: u32,
  color: vec4<f32>,    // rgb in 0..1 (a: 1)
  threshold: f32,
  limit: f32,          // logits are clamped to +-limit, as the predictor clamps them
}

@group(0) @binding(0) var<storage, read> low: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

struct Taps { i0: i32, i1: i32, w: f32 }

// src = (o + 0.5) * in/out - 0.5, clamped at 0 below and at in-1 above (imageOps.bilinearTaps).
fn taps(o: i32, outSize: i32, inSize: i32) -> Taps {
  let src = max((f32(o) + 0.5) * (f32(inSize) / f32(outSize)) - 0.5, 0.0);
  let i0 = min(i32(floor(src)), inSize - 1);
  return Taps(i0, min(i0 + 1, inSize - 1), src - f32(i0));
}

fn texel(x: i32, y: i32) -> f32 { return clamp(low[y * 256 + x], -p.limit, p.limit); }

fn square(x: i32, y: i32) -> f32 {
  let tx = taps(x, p.size, 256);
  let ty = taps(y, p.size, 256);
  let top = texel(tx.i0, ty.i0) * (1.0 - tx.w) + texel(tx.i1, ty.i0) * tx.w;
  let bottom = texel(tx.i0, ty.i1) * (1.0 - tx.w) + texel(tx.i1, ty.i1) * tx.w;
  return top * (1.0 - ty.w) + bottom * ty.w;
}

fn logit(x: i32, y: i32) -> f32 {
  if (p.mode == 0) {
    let tx = taps(x, p.image.x, 256);
    let ty = taps(y, p.image.y, 256);
    let top = texel(tx.i0, ty.i0) * (1.0 - tx.w) + texel(tx.i1, ty.i0) * tx.w;
    let bottom = texel(tx.i0, ty.i1) * (1.0 - tx.w) + texel(tx.i1, ty.i1) * tx.w;
    return top * (1.0 - ty.w) + bottom * ty.w;
  }
  let tx = taps(x, p.image.x, p.cropped.x);
  let ty = taps(y, p.image.y, p.cropped.y);
  let top = square(tx.i0, ty.i0) * (1.0 - tx.w) + square(tx.i1, ty.i0) * tx.w;
  let bottom = square(tx.i0, ty.i1) * (1.0 - tx.w) + square(tx.i1, ty.i1) * tx.w;
  return top * (1.0 - ty.w) + bottom * ty.w;
}

fn inside(x: i32, y: i32) -> bool { return logit(x, y) > p.threshold; }

@vertex fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
  let q = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
  return vec4<f32>(q * 2.0 - 1.0, 0.0, 1.0);
}

@fragment fn fs(@builtin(position) at: vec4<f32>) -> @location(0) vec4<f32> {
  let x = i32(at.x);
  let y = i32(at.y);  // framebuffer rows run top-down, like the image's
  if (!inside(x, y)) { discard; }
  let edge = p.contour != 0u && (x == 0 || y == 0 || x == p.image.x - 1 || y == p.image.y - 1 ||
    !inside(x - 1, y) || !inside(x + 1, y) || !inside(x, y - 1) || !inside(x, y + 1));
  if (!edge && p.fill == 0u) { discard; }
  let a = select(110.0 / 255.0, 1.0, edge) * p.color.a;
  return vec4<f32>(p.color.rgb * a, a);  // premultiplied, as the canvas is configured
}

// The mask's pixel count at the image's resolution.
@group(0) @binding(2) var<storage, read_write> area: atomic<u32>;
@compute @workgroup_size(16, 16) fn count(@builtin(global_invocation_id) g: vec3<u32>) {
  let x = i32(g.x);
  let y = i32(g.y);
  if (x < p.image.x && y < p.image.y && inside(x, y)) { atomicAdd(&area, 1u); }
}
`;

// The best candidate (highest score, the first of equals: as the page's Array.indexOf(max))
// copied out of the decoder's output into a layer's buffer, on the GPU.
const PICK = /* wgsl */ `
@group(0) @binding(0) var<storage, read> masks: array<f32>;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> chosen: array<f32>;
@group(0) @binding(3) var<uniform> candidates: u32;
@compute @workgroup_size(256) fn pick(@builtin(global_invocation_id) g: vec3<u32>) {
  var best = 0u;
  for (var i = 1u; i < candidates; i++) {
    if (scores[i] > scores[best]) { best = i; }
  }
  chosen[g.x] = masks[best * ${LOW}u + g.x];
}
`;

interface Layer {
  logits: GPUBuffer;
  params: GPUBuffer;
  draw: GPUBindGroup;
}

/** Whether this browser shows WebGPU canvases, tried on `canvas` (a tiny one on the page) with
 * a device of its own, before the engine opens its device: some (headless Chromium on a
 * CPU-emulated adapter) lose every WebGPU device of the browser a few frames after the first
 * canvas frame, which would take the model's sessions with it. `evenEmulated`: try it on a
 * CPU-emulated adapter too (else that alone is the reason). '' when it works, else why not. */
export async function probeCanvas(canvas: HTMLCanvasElement, evenEmulated: boolean): Promise<string> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) return 'no WebGPU adapter';
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  if (
    !evenEmulated &&
    (/swiftshader|llvmpipe/i.test(`${info?.architecture} ${info?.vendor}`) ||
      (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter)
  ) {
    return 'a CPU-emulated adapter (the page draws faster there)';
  }
  const device = await adapter.requestDevice();
  const context = canvas.getContext('webgpu');
  if (!context) return 'no WebGPU canvas here';
  let lost = '';
  void device.lost.then((l) => {
    lost ||= l.message || l.reason || 'lost';
  });
  try {
    context.configure({ device, format: navigator.gpu.getPreferredCanvasFormat(), alphaMode: 'premultiplied' });
    for (let i = 0; i < 6 && !lost; i++) {
      const encoder = device.createCommandEncoder();
      encoder
        .beginRenderPass({
          colorAttachments: [
            { view: context.getCurrentTexture().createView(), loadOp: 'clear', storeOp: 'store', clearValue: [0, 0, 0, 0] },
          ],
        })
        .end();
      device.queue.submit([encoder.finish()]);
      await new Promise((resolve) => requestAnimationFrame(resolve));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    return lost ? `the browser lost its GPU device after showing a WebGPU canvas (${lost})` : '';
  } catch (e) {
    return `WebGPU canvas failed: ${(e as Error).message}`;
  } finally {
    if (!lost) {
      lost = 'probe done';
      context.unconfigure();
      device.destroy();
    }
  }
}

export class GpuOverlay {
  private readonly layers = new Map<number, Layer>();
  private width = 1;
  private height = 1;
  private mapping: Mapping = { kind: 'squash' };
  private limit = Number.POSITIVE_INFINITY;
  private readonly candidates: GPUBuffer;
  private lost = false;

  private constructor(
    private readonly device: GPUDevice,
    private readonly canvas: OffscreenCanvas,
    private readonly context: GPUCanvasContext,
    private readonly drawPipeline: GPURenderPipeline,
    private readonly countPipeline: GPUComputePipeline,
    private readonly pickPipeline: GPUComputePipeline,
  ) {
    this.candidates = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    void device.lost.then(() => {
      this.lost = true;
    });
  }

  /** Draws into `canvas` (handed over by the page) with the engine's own device; null where the
   * canvas cannot take a WebGPU context. */
  static create(device: GPUDevice, canvas: OffscreenCanvas): GpuOverlay | null {
    const context = canvas.getContext('webgpu');
    if (!context) return null;
    const format = navigator.gpu.getPreferredCanvasFormat();
    context.configure({ device, format, alphaMode: 'premultiplied' });
    const module = device.createShaderModule({ code: SHADER });
    const drawPipeline = device.createRenderPipeline({
      layout: 'auto',
      vertex: { module, entryPoint: 'vs' },
      fragment: {
        module,
        entryPoint: 'fs',
        targets: [
          {
            format,
            blend: {
              color: { srcFactor: 'one', dstFactor: 'one-minus-src-alpha' },
              alpha: { srcFactor: 'one', dstFactor: 'one-minus-src-alpha' },
            },
          },
        ],
      },
    });
    const countPipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'count' } });
    const pickPipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code: PICK }), entryPoint: 'pick' },
    });
    return new GpuOverlay(device, canvas, context, drawPipeline, countPipeline, pickPipeline);
  }

  /** A new image: every layer dropped, the canvas sized to the image (and cleared). */
  reset(width: number, height: number, mapping: Mapping, clampLimit: number | undefined): void {
    this.keep(new Set());
    this.width = width;
    this.height = height;
    this.mapping = mapping;
    this.limit = clampLimit ?? Number.POSITIVE_INFINITY;
    this.canvas.width = width;
    this.canvas.height = height;
    this.present();
  }

  /** Object `objectId` drawn from logits the page sent. */
  setLayer(objectId: number, lowRes: Float32Array, style: MaskStyle): void {
    const layer = this.layer(objectId, style);
    this.device.queue.writeBuffer(layer.logits, 0, lowRes as Float32Array<ArrayBuffer>, 0, LOW);
  }

  /** Object `objectId` drawn from the decoder's outputs as they lie on the GPU: the best of
   * `numMasks` candidates by score. Nothing is read back. */
  setLayerFromDecoder(objectId: number, masks: GPUBuffer, scores: GPUBuffer, numMasks: number, style: MaskStyle): void {
    const layer = this.layer(objectId, style);
    this.device.queue.writeBuffer(this.candidates, 0, new Uint32Array([numMasks, 0, 0, 0]));
    const bind = this.device.createBindGroup({
      layout: this.pickPipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: masks } },
        { binding: 1, resource: { buffer: scores } },
        { binding: 2, resource: { buffer: layer.logits } },
        { binding: 3, resource: { buffer: this.candidates } },
      ],
    });
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(this.pickPipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(LOW / 256);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
  }

  /** Drops the layers of objects not in `keep`. */
  keep(keep: Set<number>): void {
    for (const [id, layer] of this.layers) {
      if (keep.has(id)) continue;
      layer.logits.destroy();
      layer.params.destroy();
      this.layers.delete(id);
    }
  }

  /** Every layer drawn into the canvas, in the order they were first made (as the page's 2D
   * overlay stacks its bitmaps); shown at the page's next frame. */
  present(): void {
    if (this.lost) throw new Error('the GPU device was lost');
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginRenderPass({
      colorAttachments: [
        { view: this.context.getCurrentTexture().createView(), loadOp: 'clear', storeOp: 'store', clearValue: [0, 0, 0, 0] },
      ],
    });
    pass.setPipeline(this.drawPipeline);
    for (const layer of this.layers.values()) {
      pass.setBindGroup(0, layer.draw);
      pass.draw(3);
    }
    pass.end();
    this.device.queue.submit([encoder.finish()]);
  }

  /** The pixel counts of these objects' masks at the image's resolution (read back). */
  async areas(objectIds: number[]): Promise<Map<number, number>> {
    const ids = objectIds.filter((id) => this.layers.has(id));
    const result = new Map<number, number>();
    if (!ids.length) return result;
    const counts = this.device.createBuffer({
      size: ids.length * 256,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    const staging = this.device.createBuffer({ size: ids.length * 256, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const encoder = this.device.createCommandEncoder();
      encoder.clearBuffer(counts);
      const pass = encoder.beginComputePass();
      pass.setPipeline(this.countPipeline);
      for (const [i, id] of ids.entries()) {
        const layer = this.layers.get(id) as Layer;
        pass.setBindGroup(
          0,
          this.device.createBindGroup({
            layout: this.countPipeline.getBindGroupLayout(0),
            entries: [
              { binding: 0, resource: { buffer: layer.logits } },
              { binding: 1, resource: { buffer: layer.params } },
              { binding: 2, resource: { buffer: counts, offset: i * 256, size: 4 } },
            ],
          }),
        );
        pass.dispatchWorkgroups(Math.ceil(this.width / 16), Math.ceil(this.height / 16));
      }
      pass.end();
      encoder.copyBufferToBuffer(counts, 0, staging, 0, ids.length * 256);
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const values = new Uint32Array(staging.getMappedRange());
      for (const [i, id] of ids.entries()) result.set(id, values[i * 64]);
      staging.unmap();
      return result;
    } finally {
      counts.destroy();
      staging.destroy();
    }
  }

  release(): void {
    this.keep(new Set());
    this.candidates.destroy();
    this.context.unconfigure();
  }

  /** The layer of `objectId` (made on first use; kept in place in the stacking order), restyled. */
  private layer(objectId: number, style: MaskStyle): Layer {
    let layer = this.layers.get(objectId);
    if (!layer) {
      const logits = this.device.createBuffer({ size: LOW * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      const params = this.device.createBuffer({ size: PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      const draw = this.device.createBindGroup({
        layout: this.drawPipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: logits } },
          { binding: 1, resource: { buffer: params } },
        ],
      });
      layer = { logits, params, draw };
      this.layers.set(objectId, layer);
    }
    this.device.queue.writeBuffer(layer.params, 0, this.paramsFor(style));
    return layer;
  }

  private paramsFor(style: MaskStyle): ArrayBuffer {
    const bytes = new ArrayBuffer(PARAMS_BYTES);
    const i = new Int32Array(bytes);
    const u = new Uint32Array(bytes);
    const f = new Float32Array(bytes);
    const [croppedH, croppedW] =
      this.mapping.kind === 'longest-side' ? longestSideShape(this.width, this.height, this.mapping.size) : [0, 0];
    i.set([
      this.width,
      this.height,
      croppedW,
      croppedH,
      this.mapping.kind === 'squash' ? 0 : 1,
      this.mapping.kind === 'squash' ? 0 : this.mapping.size,
    ]);
    u.set([style.fill ? 1 : 0, style.contour ? 1 : 0], 6);
    f.set([...style.color.map((c) => c / 255), 1], 8);
    f.set([style.threshold, Number.isFinite(this.limit) ? this.limit : 3.4e38], 12);
    return bytes;
  }
}
