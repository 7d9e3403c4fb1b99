// The dev server (and `vite preview`) forwards /graphql to Bazaar, so the browser talks to one
// origin and Bazaar needs no CORS setting. BAZAAR_URL says where Bazaar runs.
import { defineConfig } from "vite";

const bazaar = process.env.BAZAAR_URL ?? "http://127.0.0.1:8080";
// Bazaar's mail links (sign-up, password reset, order status) point at http://localhost:3000
// by default: the same origin, so the cart and session kept in the browser are found there.
const port = Number(process.env.PORT ?? 3000);
const proxy = { "/graphql": { target: bazaar, changeOrigin: true, ws: true } };

export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  server: { port, proxy },
  preview: { port, proxy },
});
