// How to turn WebGPU on, in the words that fit the user's browser.

/** What to do where the page is not a secure context (plain http:// on another device's address). */
export const SECURE_CONTEXT_HELP =
  'Open it at http://localhost on the machine that runs `sam2web serve`, ' +
  'or start the server with `sam2web serve --https` to use it from other devices.';

export function webGpuHelp(userAgent: string): string {
  const ua = userAgent.toLowerCase();
  if (ua.includes('firefox')) {
    return (
      'Firefox ships WebGPU on Windows since version 141; on macOS and Linux open about:config ' +
      'and set dom.webgpu.enabled to true, then reload.'
    );
  }
  if (ua.includes('edg/')) {
    return (
      'Update Microsoft Edge to version 113 or later; check edge://gpu that WebGPU is "Hardware ' +
      'accelerated", and on Linux enable edge://flags/#enable-unsafe-webgpu.'
    );
  }
  if (ua.includes('safari') && !ua.includes('chrome') && !ua.includes('chromium')) {
    return 'Safari has WebGPU from Safari 26 (macOS 26 / iOS 26); on older versions enable it under ' + 'Develop > Feature Flags > WebGPU.';
  }
  if (ua.includes('chrome') || ua.includes('chromium')) {
    return (
      'Use Chrome 113 or later and keep hardware acceleration on (Settings > System); chrome://gpu ' +
      'shows whether WebGPU is available. On Linux, enable chrome://flags/#enable-unsafe-webgpu and ' +
      'chrome://flags/#enable-vulkan.'
    );
  }
  return 'Use a browser with WebGPU: Chrome or Edge 113+, Safari 26+, or Firefox 141+ on Windows.';
}
