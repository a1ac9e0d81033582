import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// `base: './'`: every URL in the build is relative, so it works wherever it is served
// (`romidb serve` puts it at /viewer/, under the server's prefix if any).
export default defineConfig({
  base: './',
  plugins: [preact()],
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 800 },
  worker: { format: 'es' },
});
