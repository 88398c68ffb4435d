#!/usr/bin/env bash
# Installs what the documentation checks (tests/docs) need, once: Debian's chromium and mermaid-cli
# (from the npm registry, into .tools/node_modules, without puppeteer's own browser download), and a
# puppeteer config that points mermaid-cli at /usr/bin/chromium (--no-sandbox: CI runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."
MMDC_VERSION=11.9.0  # supports Debian 12's Node 18 as well as Node 20+
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
    say "installing system packages for the docs checks: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

mkdir -p .tools
MMDC=.tools/node_modules/.bin/mmdc
if ! { [ -x "$MMDC" ] && grep -q "\"version\": \"$MMDC_VERSION\"" .tools/node_modules/@mermaid-js/mermaid-cli/package.json 2>/dev/null; }; then
    say "installing @mermaid-js/mermaid-cli@$MMDC_VERSION into .tools/node_modules"
    PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1 \
        npm install --prefix .tools --no-save --no-audit --no-fund --loglevel=error \
        "@mermaid-js/mermaid-cli@$MMDC_VERSION" >/dev/null
fi

cat > .tools/puppeteer-config.json.tmp <<'JSON'
{
  "executablePath": "/usr/bin/chromium",
  "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
}
JSON
mv -f .tools/puppeteer-config.json.tmp .tools/puppeteer-config.json
