// Which GPU the engine runs on, and the device it asks for: shared by the worker and the
// benchmark's baseline page, so both compute on the same adapter.

export type GpuChoice = { device: GPUDevice; software: boolean } | { reason: string };

const isSoftware = (a: GPUAdapter | null) =>
  !!a &&
  ((a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean })?.isFallbackAdapter ??
    (a as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ??
    false);

/** 'auto': the core adapter, or the compatibility one where the core one is missing or emulated on
 * the CPU; 'compat': the compatibility adapter (for measuring it where both exist). */
export type AdapterChoice = 'auto' | 'compat';

/** onnxruntime-web 1.30's attention (MultiHeadAttention) takes a subgroup path on devices with
 * the 'subgroups' feature (NVIDIA and Apple excepted) that steps through 16 keys at a time with
 * subgroupShuffle; with narrower subgroups (SwiftShader's are 4 wide) its results are wrong from
 * 32 queries on, up to 0.9 off on unit-scale inputs, where the same device without the feature
 * agrees with the CPU to 1e-6 (tests/browser/test_webgpu_kernels.py,
 * benchmarks/results/webgpu-subgroups). So the feature is asked for only where the adapter's
 * subgroups are never narrower than 16; elsewhere attention takes ORT's workgroup-memory path,
 * the one it always uses on NVIDIA and Apple GPUs. */
export const MIN_SUBGROUP_SIZE = 16;

function subgroupsAreSafe(adapter: GPUAdapter): boolean {
  const min = (adapter.info as GPUAdapterInfo & { subgroupMinSize?: number }).subgroupMinSize;
  return typeof min === 'number' && min >= MIN_SUBGROUP_SIZE;
}

export async function openGpuDevice(choice: AdapterChoice = 'auto'): Promise<GpuChoice> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu && !self.isSecureContext) return { reason: 'this page is not a secure context (WebGPU needs https:// or localhost)' };
  if (!gpu) return { reason: 'this browser does not expose WebGPU (navigator.gpu is missing)' };
  let adapter =
    choice === 'compat'
      ? await gpu.requestAdapter({ featureLevel: 'compatibility', powerPreference: 'high-performance' } as GPURequestAdapterOptions)
      : await gpu.requestAdapter({ powerPreference: 'high-performance' });
  // Some GPUs/drivers only offer a compatibility-mode adapter (OpenGL ES class hardware); a real
  // GPU there beats a software (CPU-emulated) core adapter.
  if (!adapter || isSoftware(adapter)) {
    const compat = await gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    if (compat && (!adapter || !isSoftware(compat))) adapter = compat;
  }
  if (!adapter) return { reason: 'WebGPU is present but no GPU adapter is available (GPU blocklisted or disabled)' };
  const wanted: GPUFeatureName[] = ['shader-f16', 'timestamp-query'];
  if (subgroupsAreSafe(adapter)) wanted.push('subgroups' as GPUFeatureName);
  const limits = adapter.limits;
  try {
    const device = await adapter.requestDevice({
      requiredFeatures: wanted.filter((f) => adapter!.features.has(f)),
      requiredLimits: {
        maxBufferSize: limits.maxBufferSize,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupSizeY: limits.maxComputeWorkgroupSizeY,
        maxComputeWorkgroupSizeZ: limits.maxComputeWorkgroupSizeZ,
      },
    });
    return { device, software: isSoftware(adapter) };
  } catch (e) {
    return { reason: `the GPU adapter refused to create a device (${(e as Error).message})` };
  }
}
