import { defineConfig } from 'vitest/config';

// Unit tests of the engine's pure modules and the UI's state, in Node (no browser needed); the
// browser tests (tests/browser/, Python + Playwright) cover the rest against the real server.
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], environment: 'node' },
});
