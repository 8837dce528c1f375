"""Where a run computes: the dask scheduler, and the GDAL block cache of the processes.

:func:`scheduler` is the context of a run's computation: dask's local threaded scheduler (the
default), an existing dask.distributed cluster, or a local cluster of worker processes.
:func:`_scheduler_of` names what ``dask.compute`` is given inside it; :func:`_small_gdal_cache`
keeps GDAL's block cache small while a pass reads each block once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask

from .errors import ConfigError

__all__ = ["scheduler", "RUN_GDAL_CACHE"]


#: GDAL block cache during a run, bytes. Each block is read once and written once, so a large
#: cache only holds dead tiles: at 4000² with 5 float32 layers the default (5 % of RAM) added
#: ~250 MiB of RSS for nothing. A user's own GDAL_CACHEMAX is respected.
RUN_GDAL_CACHE = 16 * 2**20


@contextmanager
def _small_gdal_cache() -> Iterator[None]:
    from rasterio._env import get_gdal_config, set_gdal_config

    if "GDAL_CACHEMAX" in os.environ:
        yield
        return
    old = get_gdal_config("GDAL_CACHEMAX")
    set_gdal_config("GDAL_CACHEMAX", RUN_GDAL_CACHE)
    try:
        yield
    finally:
        if old is not None:
            set_gdal_config("GDAL_CACHEMAX", old)


def _scheduler_of(client: Any) -> Any:
    """What ``dask.compute`` runs on: the client, else a scheduler set in dask's config, else
    the local threaded scheduler, named explicitly: left to dask, the choice imports
    ``distributed`` to look for a default client (about a second, and a stray default client
    would then be sent the run's local map writers)."""
    if client is not None:
        return client
    import dask.threaded

    return dask.config.get("scheduler", None) or dask.threaded.get


@contextmanager
def scheduler(address: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """The dask scheduler of a run: the local threaded one (default), an existing
    dask.distributed cluster at ``address``, or a local cluster of ``workers`` processes.

    Yields the ``distributed.Client`` (None for the threaded scheduler); inside the block every
    ``dask.compute`` runs on it.
    """
    if address is None and workers is None:
        yield None
        return
    from distributed import Client, LocalCluster

    if address is not None and workers is not None:
        raise ConfigError("give either a scheduler address or a number of workers, not both")
    # a Client registers itself as dask's default scheduler before it connects; one that
    # fails to connect must not stay the default of the process (later computations in the
    # same session would be sent to it), so its settings live only inside this context
    with dask.config.set(scheduler=dask.config.get("scheduler", None)):
        try:
            if address is not None:
                _check_address(address)
                client = Client(address, timeout="10s", set_as_default=True)
                cluster = None
            else:
                cluster = LocalCluster(n_workers=int(workers or 1), threads_per_worker=1,
                                       processes=True, dashboard_address=None,
                                       env={"GDAL_CACHEMAX": str(RUN_GDAL_CACHE // 2**20)})
                client = Client(cluster, set_as_default=True)
        except (OSError, TimeoutError, ValueError) as exc:   # ValueError: a malformed address
            _forget_client()
            raise ConfigError(f"scheduler {address!r}: cannot connect ({exc})") from None
    try:
        with dask.config.set(scheduler=client):
            yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _check_address(address: str) -> None:
    """Raise ValueError for a malformed scheduler address, before a Client is made for it (a
    Client that fails half-made blocks for 20 s when it is garbage-collected)."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port
    from distributed.comm.registry import get_backend

    scheme, loc = parse_address(address)
    get_backend(scheme)          # ValueError for an unknown scheme
    if scheme in ("tcp", "tls"):
        parse_host_port(loc)


def _forget_client() -> None:
    """Drop a client that failed to connect from distributed's registry of default clients."""
    try:
        from distributed.client import _del_global_client, _global_clients
    except ImportError:  # pragma: no cover - distributed's internals moved
        return
    for c in list(_global_clients.values()):
        if c.status != "running":
            _del_global_client(c)
