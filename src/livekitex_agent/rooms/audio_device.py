"""Sound devices (PortAudio, through ``sounddevice``): loading the library, listing and choosing devices.

``sounddevice`` is an optional dependency (``pip install 'livekitex-agent[console]'``) and needs the
PortAudio shared library; both are loaded on first use, so the package works without them. Every
problem is an :class:`AudioDeviceError` (a :class:`~livekitex_agent.errors.ConfigError`) whose message
names the bad value and says what to do.
"""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from ..errors import ConfigError

Direction = Literal["input", "output"]

logger = logging.getLogger("livekitex_agent.rooms.audio")

_FLAG = {"input": "--input-device", "output": "--output-device"}


class AudioDeviceError(ConfigError):
    """A sound device cannot be used: missing library, unknown device, unsupported setting."""


def _portaudio_hint() -> str:
    if sys.platform == "darwin":
        return "brew install portaudio"
    if sys.platform.startswith("win"):
        return "reinstall sounddevice (its wheel bundles PortAudio): pip install --force-reinstall sounddevice"
    return "sudo apt-get install libportaudio2 (Debian/Ubuntu) or sudo dnf install portaudio (Fedora)"


def load_sounddevice() -> ModuleType:
    """Import ``sounddevice``, or raise an :class:`AudioDeviceError` saying how to install what is missing."""
    try:
        return importlib.import_module("sounddevice")
    except ImportError as e:
        raise AudioDeviceError(
            f"microphone/speaker mode needs the sounddevice package ({e}): "
            "pip install 'livekitex-agent[console]'"
        ) from None
    except OSError as e:  # sounddevice raises OSError when the PortAudio library is missing
        raise AudioDeviceError(
            f"microphone/speaker mode needs the PortAudio library ({e}): {_portaudio_hint()}"
        ) from None


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate: int

    def channels(self, direction: Direction) -> int:
        return self.max_input_channels if direction == "input" else self.max_output_channels

    def __str__(self) -> str:
        return f"{self.index} {self.name!r} ({self.hostapi})"


def list_devices() -> list[DeviceInfo]:
    """Every device PortAudio sees."""
    sd = load_sounddevice()
    hostapis = [h["name"] for h in sd.query_hostapis()]
    return [
        DeviceInfo(
            index=int(d["index"]),
            name=str(d["name"]),
            hostapi=hostapis[d["hostapi"]] if 0 <= d["hostapi"] < len(hostapis) else "?",
            max_input_channels=int(d["max_input_channels"]),
            max_output_channels=int(d["max_output_channels"]),
            default_sample_rate=round(d["default_samplerate"]),
        )
        for d in sd.query_devices()
    ]


def format_devices(devices: list[DeviceInfo] | None = None) -> str:
    """A table of the devices, the defaults marked ``>`` (input) and ``<`` (output)."""
    sd = load_sounddevice()
    devices = list_devices() if devices is None else devices
    default_in, default_out = (int(i) for i in sd.default.device)
    if not devices:
        return "no sound devices found"
    lines = ["   index  in  out  rate   name (host API)"]
    for d in devices:
        mark = (">" if d.index == default_in else " ") + ("<" if d.index == default_out else " ")
        lines.append(
            f"{mark} {d.index:5d} {d.max_input_channels:3d} {d.max_output_channels:4d} "
            f"{d.default_sample_rate:6d}  {d.name} ({d.hostapi})"
        )
    lines.append("> default input, < default output; pick one with --input-device/--output-device")
    return "\n".join(lines)


def find_device(spec: str | int | None, direction: Direction) -> DeviceInfo:
    """The device for ``spec``: ``None`` (the default), an index, or a (case-insensitive) name part.

    An exact name wins over a partial one; a name part matching several devices is an error that
    lists them.
    """
    sd = load_sounddevice()
    devices = [d for d in list_devices() if d.channels(direction) > 0]
    flag = _FLAG[direction]
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        default = int(sd.default.device[0 if direction == "input" else 1])
        for d in devices:
            if d.index == default:
                return d
        if devices and default < 0:  # no default set by the host API: the first one will do
            return devices[0]
        what = "microphone" if direction == "input" else "speaker"
        raise AudioDeviceError(
            f"no {direction} device found (no {what}?): pick one with {flag} (see --list-devices), "
            "or talk through files with --input-wav/--output-wav"
        )
    text = str(spec).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        for d in devices:
            if d.index == index:
                return d
        raise AudioDeviceError(f"{flag}={text}: no {direction} device has index {index}{_choices(devices)}")
    exact = [d for d in devices if d.name.lower() == text.lower()]
    if len(exact) == 1:
        return exact[0]
    partial = exact or [d for d in devices if text.lower() in d.name.lower()]
    if len(partial) == 1:
        return partial[0]
    if not partial:
        raise AudioDeviceError(f"{flag}={text!r} matches no {direction} device{_choices(devices)}")
    raise AudioDeviceError(
        f"{flag}={text!r} matches several {direction} devices: "
        + ", ".join(str(d) for d in partial)
        + "; give the index or a longer name"
    )


def _choices(devices: list[DeviceInfo]) -> str:
    if not devices:
        return " (there are none)"
    return "; available: " + ", ".join(str(d) for d in devices)


def check_settings(
    device: DeviceInfo, direction: Direction, *, sample_rate: int | None, channels: int = 1
) -> tuple[int, int]:
    """The ``(sample_rate, channels)`` to open ``device`` with, checked with PortAudio.

    ``sample_rate`` None means the device's own rate. Mono is preferred; a device that refuses it
    is opened with two channels (the caller mixes/duplicates).
    """
    sd = load_sounddevice()
    if sample_rate is not None and sample_rate <= 0:
        raise AudioDeviceError(f"--sample-rate={sample_rate}: must be a positive number of Hz")
    rate = sample_rate or device.default_sample_rate
    check: Any = sd.check_input_settings if direction == "input" else sd.check_output_settings
    error: Exception | None = None
    for ch in dict.fromkeys((channels, min(2, device.channels(direction)))):
        try:
            check(device=device.index, channels=ch, dtype="int16", samplerate=rate)
            return rate, ch
        except Exception as e:  # sd.PortAudioError or ValueError, depending on what is wrong
            error = e
    if sample_rate is not None:
        raise AudioDeviceError(
            f"--sample-rate={sample_rate}: {direction} device {device} does not support it ({error}); "
            f"its own rate is {device.default_sample_rate} Hz"
        )
    raise AudioDeviceError(f"{direction} device {device} cannot be opened: {error}")


@dataclass(frozen=True)
class StreamSettings:
    """How to open one direction of a device: int16 samples, ``blocksize`` frames per callback."""

    device: DeviceInfo
    direction: Direction
    sample_rate: int
    channels: int
    blocksize: int
    latency: str | float


def open_stream(settings: StreamSettings, callback: Any) -> Any:
    """Open and start a PortAudio stream calling ``callback`` on its own thread for every block."""
    sd = load_sounddevice()
    kind = sd.InputStream if settings.direction == "input" else sd.OutputStream
    try:
        stream = kind(
            device=settings.device.index,
            samplerate=settings.sample_rate,
            channels=settings.channels,
            dtype="int16",
            blocksize=settings.blocksize,
            latency=settings.latency,
            callback=callback,
        )
        stream.start()
    except sd.PortAudioError as e:
        raise AudioDeviceError(f"cannot open {settings.direction} device {settings.device}: {e}") from None
    logger.info(
        "%s device %s open at %d Hz, latency %.0f ms",
        settings.direction,
        settings.device,
        settings.sample_rate,
        1000 * float(stream.latency),
    )
    return stream


def close_stream(stream: Any, direction: Direction) -> None:
    """Stop and close ``stream`` (its callback has returned when this does); errors are logged."""
    try:
        stream.close()  # a one-off call of a few ms
    except Exception as e:
        logger.warning("closing the %s stream failed: %s", direction, e)
