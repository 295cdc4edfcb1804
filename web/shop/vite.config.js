import { defineConfig } from 'vite'
import uni from '@dcloudio/vite-plugin-uni'

// One codebase, two builds: `npm run build` (the H5 site, served at /shop/ by manifest.json's h5.router.base)
// and `npm run build:mp` (the WeChat mini-program). See README.md, "Storefront".
export default defineConfig({
  plugins: [uni()],
  build: { reportCompressedSize: false },
})
