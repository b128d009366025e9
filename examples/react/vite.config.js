// Vite for the React example. `npm run build` writes dist/, which the
// gateway serves with PORTCULLIS_STATIC_DIR=examples/react/dist; `npm run
// dev` serves the app on :5173 and passes the gateway's own paths to a
// gateway on 127.0.0.1:8080 (PORTCULLIS_GATEWAY to choose another), so page and
// calls share one origin, as in production.
import { defineConfig } from 'vite';

const gateway = process.env.PORTCULLIS_GATEWAY ?? 'http://127.0.0.1:8080';

export default defineConfig({
  // JSX without a plugin: esbuild's automatic runtime (react/jsx-runtime)
  esbuild: { jsx: 'automatic' },
  server: {
    proxy: {
      '/auth': gateway,
      '/api': { target: gateway, ws: true },
      '/.well-known': gateway,
    },
    // the client package is linked from ../../clients/js
    fs: { allow: ['.', '../../clients/js'] },
  },
  build: {
    // the gateway's Content-Security-Policy (script-src 'self') allows no
    // inline script: keep every chunk a file
    assetsInlineLimit: 0,
  },
});
