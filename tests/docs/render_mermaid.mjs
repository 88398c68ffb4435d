// Renders mermaid blocks with mermaid-cli in ONE browser launch and reports each block's result.
// Usage: node render_mermaid.mjs BLOCKS.json TOOLS_DIR PUPPETEER_CONFIG.json
// BLOCKS.json: [{"id": "...", "code": "..."}]; prints [{"id": "...", "error": null | "..."}] as JSON.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const [blocksPath, toolsDir, configPath] = process.argv.slice(2)
const blocks = JSON.parse(readFileSync(blocksPath, 'utf8'))
const config = JSON.parse(readFileSync(configPath, 'utf8'))
const modules = path.join(path.resolve(toolsDir), 'node_modules')
const require = createRequire(path.join(modules, 'noop.js'))
const cliEntry = path.join(modules, '@mermaid-js', 'mermaid-cli', 'src', 'index.js')
const { renderMermaid } = await import(pathToFileURL(cliEntry).href)
const puppeteer = (await import(pathToFileURL(require.resolve('puppeteer')).href)).default

const browser = await puppeteer.launch({ headless: true, ...config })
const results = []
try {
  for (const block of blocks) {
    try {
      const { data } = await renderMermaid(browser, block.code, 'svg', {})
      const svg = Buffer.from(data).toString('utf8')
      results.push({ id: block.id, error: svg.includes('<svg') ? null : 'no SVG produced' })
    } catch (e) {
      results.push({ id: block.id, error: String(e && e.message ? e.message : e).split('\n').slice(0, 4).join(' ') })
    }
  }
} finally {
  await browser.close()
}
process.stdout.write(JSON.stringify(results))
