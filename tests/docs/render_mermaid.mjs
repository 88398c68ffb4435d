// Renders mermaid blocks in ONE browser page (Debian's chromium driven by puppeteer, both as
// installed by scripts/install-docs-tools.sh with mermaid-cli): mermaid is loaded once and each
// block goes through mermaid.render, as mermaid-cli does per file. Prints each block's result.
// Usage: node render_mermaid.mjs BLOCKS.json TOOLS_DIR PUPPETEER_CONFIG.json
// BLOCKS.json: [{"id": "...", "code": "..."}]; stdout: [{"id": "...", "error": null | "..."}]
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const [blocksPath, toolsDir, configPath] = process.argv.slice(2)
const blocks = JSON.parse(readFileSync(blocksPath, 'utf8'))
const config = JSON.parse(readFileSync(configPath, 'utf8'))
const modules = path.join(path.resolve(toolsDir), 'node_modules')
const require = createRequire(path.join(modules, 'noop.js'))
const puppeteer = (await import(pathToFileURL(require.resolve('puppeteer')).href)).default
const page0 = path.join(modules, '@mermaid-js', 'mermaid-cli', 'dist', 'index.html')
const mermaidJs = path.join(modules, 'mermaid', 'dist', 'mermaid.min.js')

const browser = await puppeteer.launch({ headless: true, ...config })
let results
try {
  const page = await browser.newPage()
  await page.goto(pathToFileURL(page0).href)
  await page.addScriptTag({ path: mermaidJs })
  results = await page.evaluate(async (blocks) => {
    const { mermaid } = globalThis
    mermaid.initialize({ startOnLoad: false })
    const out = []
    for (const [i, block] of blocks.entries()) {
      try {
        const { svg } = await mermaid.render(`block${i}`, block.code)
        out.push({ id: block.id, error: svg.includes('<svg') ? null : 'no SVG produced' })
      } catch (e) {
        out.push({ id: block.id, error: String(e && e.message ? e.message : e).split('\n').slice(0, 4).join(' ') })
      }
      document.querySelectorAll(`#dblock${i}, #block${i}`).forEach((n) => n.remove())
    }
    return out
  }, blocks)
} finally {
  await browser.close()
}
process.stdout.write(JSON.stringify(results))
