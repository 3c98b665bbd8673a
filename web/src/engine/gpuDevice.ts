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
  const wanted: GPUFeatureName[] = ['shader-f16', 'timestamp-query', 'subgroups' as GPUFeatureName];
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
