"""Imported last by the worker's forkserver, never elsewhere: what every job process forked from it
then shares instead of making its own copy.

- The LiveKit SDK's native library is loaded (``dlopen`` only: no runtime, no thread is started),
  so its relocated data pages are shared rather than written again in each job process.
- ``gc.freeze()`` moves every object the preloaded modules created out of the collector's reach,
  so a job process's garbage collections do not touch (and copy) those pages.
"""

import contextlib
import gc

with contextlib.suppress(Exception):  # the SDK is optional here: a job process loads it on use
    from livekit.rtc import _ffi_client

    _ffi_client.get_ffi_lib()

gc.freeze()
