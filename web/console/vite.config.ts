import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

// Served by the local stack (and CloudFront) at /console/, on the API's own origin: the app calls
// the API with relative paths. `npm run dev` proxies those paths to a stack on MALL_API (default :8000).
const api = process.env.MALL_API || "http://127.0.0.1:8000";
const apiPaths = ["/admin", "/catalog", "/marketing", "/groupbuy", "/health"];

export default defineConfig({
  base: "/console/",
  plugins: [vue()],
  build: {
    outDir: "dist", assetsDir: "assets", sourcemap: false, target: "es2022",
    // The bundler's "plugins took most of the build" note is about a busy 2-core machine, not this app: keep
    // `make web`'s output to what matters.
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  server: { proxy: Object.fromEntries(apiPaths.map((path) => [path, api])) },
  preview: { proxy: Object.fromEntries(apiPaths.map((path) => [path, api])) },
});
