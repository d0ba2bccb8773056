import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

// The console is served by the API under /console/ (src/server/console.ts), same origin as the
// API. `npm run console:dev` proxies the API calls to a running `npm start` on port 3000.
export default defineConfig({
  root: here,
  base: '/console/',
  plugins: [react()],
  build: { outDir: path.join(here, 'dist'), emptyOutDir: true, chunkSizeWarningLimit: 800 },
  server: { proxy: { '/v1': 'http://127.0.0.1:3000' } },
});
