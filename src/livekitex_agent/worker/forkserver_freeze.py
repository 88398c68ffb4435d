"""Imported last by the worker's forkserver, never elsewhere: it freezes what the preloaded modules
created, so the garbage collector of each forked job process does not touch (and copy) those pages."""

import gc

gc.freeze()
