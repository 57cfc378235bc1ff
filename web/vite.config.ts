import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The Python server serves dist/index.html and dist/assets/; client-side routes fall back to index.html.
// During development, `npm run dev` proxies /api to a running `omniloop serve` (OMNILOOP_API overrides).
const api = process.env.OMNILOOP_API ?? 'http://127.0.0.1:8010';

export default defineConfig({
  base: '/',
  plugins: [react()],
  server: {
    port: 5173,
    proxy: { '/api': { target: api, changeOrigin: false } },
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
  },
});
