"""Imported by the worker's forkserver (``WorkerOptions(preload=("capacity_preload",))``): the Silero
model loaded here is shared copy-on-write by every job process forked afterwards."""

from livekitex_agent.plugins import local

local.SileroVAD().prewarm()
