# Sourced by the install scripts that build a Go binary: sets GO to a `go` command, installing
# Debian's golang-go first when there is none (GOTOOLCHAIN=auto then fetches a newer toolchain).
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
    printf '\033[1m[setup]\033[0m %s\n' "installing Go from Debian's packages (golang-go)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq golang-go >/dev/null
fi
GO=$(command -v go || echo /usr/local/go/bin/go)
