"""Imported by a worker's forkserver (``WorkerOptions(preload_local=True)``, the default), never
elsewhere: loads the installed local providers' native libraries and models once, shared by every
job process (see :mod:`.preload`)."""

from .preload import preload_native

LOADED = preload_native()
