// The dev server (and `vite preview`) forwards /graphql to Bazaar, so the browser talks to one
// origin and Bazaar needs no CORS setting. BAZAAR_URL says where Bazaar runs.
import { defineConfig } from "vite";

const bazaar = process.env.BAZAAR_URL ?? "http://127.0.0.1:8080";
// Bazaar's mail links (sign-up, password reset, order status) point at port 3000 by default.
const port = Number(process.env.PORT ?? 3000);
// The browser's Origin header goes no further: to Bazaar the proxy is a server-side client
// (it refuses cross-origin calls from origins not in --cors-origins).
const proxy = {
  "/graphql": {
    target: bazaar,
    changeOrigin: true,
    ws: true,
    configure: (server) => {
      server.on("proxyReq", (request) => request.removeHeader("origin"));
      server.on("proxyReqWs", (request) => request.removeHeader("origin"));
    },
  },
};

export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  server: { host: "127.0.0.1", port, proxy },
  preview: { host: "127.0.0.1", port, proxy },
});
