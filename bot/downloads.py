"""Files people send: fetched only when they would be kept, streamed to disk, capped.

An adapter turns a photo or file into an :class:`Attachment` that carries ``fetch`` (the
platform's bytes, chunk by chunk) and no bytes. :func:`dispatch` asks the dispatcher first
whether the sender's conversation would keep a file now (a bound member at a question, a
proposal …): for anyone else — a stranger, a chat that never bound, a window that takes no
file — nothing is downloaded at all. Otherwise the bytes are streamed into the evidence
store's spool with ``EVIDENCE_MAX_BYTES`` enforced while reading: past it the download is
stopped, the spool deleted and the person told the limit. The flow moves the spooled file
into the store; whatever it did not keep is deleted after the event. A file is never held
whole in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from handlers.dispatch import Dispatcher
from handlers.messages import Attachment, Incoming, Outgoing
from storage.evidence import EvidenceStoreError, Spool

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
#: Seconds a whole download may take (20 MB over a slow link; the platforms are fast).
DOWNLOAD_TIMEOUT = 120.0

Dispatch = Callable[[Incoming], Awaitable[list[Outgoing]]]


class TooLarge(Exception):
    """Raised by a fetch that learns the file's size is over the limit before reading it."""


def dispatching(dispatcher: Dispatcher) -> Dispatch:
    """The adapters' dispatch: files fetched as described above, the flow in a thread."""
    async def dispatch(incoming: Incoming) -> list[Outgoing]:
        return await dispatch_with_file(dispatcher, incoming)

    return dispatch


async def dispatch_with_file(dispatcher: Dispatcher, incoming: Incoming) -> list[Outgoing]:
    """Dispatch ``incoming``; an attachment's bytes are fetched first if they would be kept."""
    attachment = incoming.attachment
    if attachment is None or attachment.fetch is None \
            or not await asyncio.to_thread(dispatcher.takes_file, incoming):
        return await asyncio.to_thread(dispatcher.dispatch, incoming)
    received, spool = await _receive(dispatcher, attachment)
    try:
        return await asyncio.to_thread(dispatcher.dispatch,
                                       dataclasses.replace(incoming, attachment=received))
    finally:
        if spool is not None:
            spool.discard()  # a file the flow kept was moved away; anything else goes


async def _receive(dispatcher: Dispatcher, attachment: Attachment
                   ) -> tuple[Attachment, Spool | None]:
    """The attachment as the flow gets it — spooled, too large, or the store failed — and
    the spool to discard once the flow is done."""
    assert attachment.fetch is not None
    limit = dispatcher.config.max_evidence_bytes
    try:
        spool = dispatcher.config.evidence.spool()
    except EvidenceStoreError:
        logger.exception("cannot spool an upload")
        return dataclasses.replace(attachment, store_failed=True), None
    try:
        try:
            async with asyncio.timeout(DOWNLOAD_TIMEOUT):
                complete = await _stream(attachment.fetch(), spool.write, limit)
        except TooLarge:
            complete = False
        if not complete:
            logger.info("an upload passed EVIDENCE_MAX_BYTES (%s); download stopped", limit)
            return dataclasses.replace(attachment, too_large=True), spool
        return dataclasses.replace(attachment, spooled=spool.path, digest=spool.finish(),
                                   spooled_size=spool.size), spool
    except EvidenceStoreError:
        logger.exception("cannot spool an upload")
        return dataclasses.replace(attachment, store_failed=True), spool
    except BaseException:  # a network error or a timeout: the platform delivers it again
        spool.discard()
        raise


async def _stream(chunks: AsyncIterator[bytes], write: Callable[[bytes, int], bool],
                  limit: int) -> bool:
    """Write every chunk; False as soon as the total passes ``limit`` (the rest unread)."""
    async with contextlib.aclosing(chunks):  # type: ignore[type-var]
        async for chunk in chunks:
            if not write(chunk, limit):
                return False
    return True
