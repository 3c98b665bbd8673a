// Mask post-processing on the GPU (WebGL2 on an OffscreenCanvas in the worker): the 256x256 logits
// go up as one small texture; a fragment shader upsamples them to the image's resolution with the
// same bilinear taps as imageOps.ts / the Python predictor, thresholds, and draws fill and outline;
// a second pass counts mask pixels in 16x16 blocks so only a few thousand sums come back.
// Nothing per pixel runs in JavaScript. Where WebGL2 or float render targets are missing, callers
// fall back to the JavaScript path (imageOps.overlayPixels).

import { longestSideShape } from './imageOps';
import type { MaskStyle } from './protocol';

/** How the 256x256 logits map onto the image: squashed (SAM2) or longest side + pad (SAM1). */
export type Mapping = { kind: 'squash' } | { kind: 'longest-side'; size: number };

const VERTEX = `#version 300 es
void main() {
  vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
  gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}`;

// The logit at image pixel (x, y). Taps as in imageOps.bilinearTaps: src = (o + 0.5) * in/out - 0.5,
// clamped at 0 below and at in-1 above; SAM1 composes two such resizes (256 -> size, crop, -> image).
const LOGIT = `#version 300 es
precision highp float;
precision highp int;
uniform highp sampler2D low;
uniform ivec2 image;       // width, height
uniform int mode;          // 0: squash, 1: longest side
uniform ivec2 cropped;     // SAM1: the unpadded size inside size x size
uniform int size;          // SAM1: the model's input size
uniform float threshold;

void taps(int o, int outSize, int inSize, out int i0, out int i1, out float w) {
  float src = max((float(o) + 0.5) * (float(inSize) / float(outSize)) - 0.5, 0.0);
  i0 = min(int(floor(src)), inSize - 1);
  i1 = min(i0 + 1, inSize - 1);
  w = src - float(i0);
}

float texel(int x, int y) { return texelFetch(low, ivec2(x, y), 0).r; }

// SAM1: the size x size map, itself a bilinear resize of the 256 x 256 logits.
float square(int x, int y) {
  int x0, x1, y0, y1; float wx, wy;
  taps(x, size, 256, x0, x1, wx);
  taps(y, size, 256, y0, y1, wy);
  float top = texel(x0, y0) * (1.0 - wx) + texel(x1, y0) * wx;
  float bottom = texel(x0, y1) * (1.0 - wx) + texel(x1, y1) * wx;
  return top * (1.0 - wy) + bottom * wy;
}

float logit(int x, int y) {
  int x0, x1, y0, y1; float wx, wy;
  if (mode == 0) {
    taps(x, image.x, 256, x0, x1, wx);
    taps(y, image.y, 256, y0, y1, wy);
    float top = texel(x0, y0) * (1.0 - wx) + texel(x1, y0) * wx;
    float bottom = texel(x0, y1) * (1.0 - wx) + texel(x1, y1) * wx;
    return top * (1.0 - wy) + bottom * wy;
  }
  taps(x, image.x, cropped.x, x0, x1, wx);
  taps(y, image.y, cropped.y, y0, y1, wy);
  float top = square(x0, y0) * (1.0 - wx) + square(x1, y0) * wx;
  float bottom = square(x0, y1) * (1.0 - wx) + square(x1, y1) * wx;
  return top * (1.0 - wy) + bottom * wy;
}

bool inside(int x, int y) { return logit(x, y) > threshold; }
`;

const OVERLAY = `${LOGIT}
uniform vec3 color;
uniform bool fill;
uniform bool contour;
out vec4 outColor;
void main() {
  int x = int(gl_FragCoord.x);
  int y = image.y - 1 - int(gl_FragCoord.y);  // GL rows run bottom-up; images top-down
  outColor = vec4(0.0);
  if (!inside(x, y)) return;
  bool edge = contour && (x == 0 || y == 0 || x == image.x - 1 || y == image.y - 1 ||
    !inside(x - 1, y) || !inside(x + 1, y) || !inside(x, y - 1) || !inside(x, y + 1));
  if (!edge && !fill) return;
  float a = edge ? 1.0 : 110.0 / 255.0;
  outColor = vec4(color * a, a);  // premultiplied, as the canvas expects
}`;

const BLOCK = 16;
const COUNT = `${LOGIT}
out vec4 outCount;
void main() {
  ivec2 origin = ivec2(gl_FragCoord.xy) * ${BLOCK};
  float n = 0.0;
  for (int dy = 0; dy < ${BLOCK}; dy++) {
    for (int dx = 0; dx < ${BLOCK}; dx++) {
      int x = origin.x + dx, y = origin.y + dy;
      if (x < image.x && y < image.y && inside(x, y)) n += 1.0;
    }
  }
  outCount = vec4(n, 0.0, 0.0, 1.0);
}`;

export class GpuMaskRenderer {
  private constructor(
    private readonly gl: WebGL2RenderingContext,
    private readonly canvas: OffscreenCanvas,
    private readonly overlay: WebGLProgram,
    private readonly count: WebGLProgram,
    private readonly lowTexture: WebGLTexture,
    private readonly countTexture: WebGLTexture,
    private readonly countFramebuffer: WebGLFramebuffer,
  ) {}

  /** null where WebGL2 with float render targets is not available, or (unless `evenEmulated`)
   * where WebGL runs on the CPU (SwiftShader, llvmpipe): there plain JavaScript is faster. */
  static create(evenEmulated = false): GpuMaskRenderer | null {
    if (typeof OffscreenCanvas === 'undefined') return null;
    const canvas = new OffscreenCanvas(1, 1);
    const gl = canvas.getContext('webgl2', { premultipliedAlpha: true, antialias: false, depth: false, stencil: false });
    if (!gl?.getExtension('EXT_color_buffer_float')) return null;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const name = String(info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
    if (!evenEmulated && /swiftshader|llvmpipe|softpipe|software/i.test(name)) return null;
    const program = (fragment: string) => {
      const p = gl.createProgram()!;
      for (const [type, source] of [
        [gl.VERTEX_SHADER, VERTEX],
        [gl.FRAGMENT_SHADER, fragment],
      ] as const) {
        const s = gl.createShader(type)!;
        gl.shaderSource(s, source);
        gl.compileShader(s);
        if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(`mask shader: ${gl.getShaderInfoLog(s)}`);
        gl.attachShader(p, s);
      }
      gl.linkProgram(p);
      if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(`mask shader: ${gl.getProgramInfoLog(p)}`);
      return p;
    };
    const texture = () => {
      const t = gl.createTexture()!;
      gl.bindTexture(gl.TEXTURE_2D, t);
      for (const k of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, k, gl.NEAREST);
      for (const k of [gl.TEXTURE_WRAP_S, gl.TEXTURE_WRAP_T]) gl.texParameteri(gl.TEXTURE_2D, k, gl.CLAMP_TO_EDGE);
      return t;
    };
    const low = texture();
    gl.texStorage2D(gl.TEXTURE_2D, 1, gl.R32F, 256, 256);
    const counts = texture();
    return new GpuMaskRenderer(gl, canvas, program(OVERLAY), program(COUNT), low, counts, gl.createFramebuffer()!);
  }

  /** The overlay bitmap (image-sized, top-down) and the mask's pixel count. */
  render(lowRes: Float32Array, mapping: Mapping, width: number, height: number, style: MaskStyle): { bitmap: ImageBitmap; area: number } {
    const { gl, canvas } = this;
    if (gl.isContextLost()) throw new Error('the WebGL context was lost');
    gl.bindTexture(gl.TEXTURE_2D, this.lowTexture);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 4);
    gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, 256, 256, gl.RED, gl.FLOAT, lowRes);
    const [croppedH, croppedW] = mapping.kind === 'longest-side' ? longestSideShape(width, height, mapping.size) : [0, 0];
    const uniforms = (p: WebGLProgram) => {
      gl.useProgram(p);
      gl.uniform1i(gl.getUniformLocation(p, 'low'), 0);
      gl.uniform2i(gl.getUniformLocation(p, 'image'), width, height);
      gl.uniform1i(gl.getUniformLocation(p, 'mode'), mapping.kind === 'squash' ? 0 : 1);
      gl.uniform2i(gl.getUniformLocation(p, 'cropped'), croppedW, croppedH);
      gl.uniform1i(gl.getUniformLocation(p, 'size'), mapping.kind === 'squash' ? 0 : mapping.size);
      gl.uniform1f(gl.getUniformLocation(p, 'threshold'), style.threshold);
    };
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.lowTexture);

    // The area: one float per 16x16 block, summed here (at most a few thousand values).
    const bw = Math.ceil(width / BLOCK),
      bh = Math.ceil(height / BLOCK);
    gl.bindTexture(gl.TEXTURE_2D, this.countTexture);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.R32F, bw, bh, 0, gl.RED, gl.FLOAT, null);
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.countFramebuffer);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, this.countTexture, 0);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.lowTexture);
    uniforms(this.count);
    gl.viewport(0, 0, bw, bh);
    gl.drawArrays(gl.TRIANGLES, 0, 3);
    const sums = new Float32Array(bw * bh * 4);
    gl.readPixels(0, 0, bw, bh, gl.RGBA, gl.FLOAT, sums);
    let area = 0;
    for (let i = 0; i < sums.length; i += 4) area += sums[i];
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);

    canvas.width = width;
    canvas.height = height;
    uniforms(this.overlay);
    gl.uniform3f(gl.getUniformLocation(this.overlay, 'color'), ...(style.color.map((c) => c / 255) as [number, number, number]));
    gl.uniform1i(gl.getUniformLocation(this.overlay, 'fill'), style.fill ? 1 : 0);
    gl.uniform1i(gl.getUniformLocation(this.overlay, 'contour'), style.contour ? 1 : 0);
    gl.viewport(0, 0, width, height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.drawArrays(gl.TRIANGLES, 0, 3);
    const error = gl.getError();
    if (error !== gl.NO_ERROR) throw new Error(`WebGL error ${error} while drawing a mask`);
    return { bitmap: canvas.transferToImageBitmap(), area };
  }
}
