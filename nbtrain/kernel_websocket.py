"""A hardened kernel-websocket connection for served notebooks (Voilà, JupyterHub, ``jupyter server``).

jupyter_server's websocket connection trusts the part count at the start of a binary message: one
8-byte frame ``ff ff ff ff ff ff ff 7f`` on a kernel websocket makes the server build a list of 2⁶³
offsets (memory grows until the machine stalls), and on a legacy-protocol socket Voilà reads every outgoing
binary message (any chart redraw) with the same unchecked v1 parser. :class:`HardenedKernelWebsocketConnection`

- refuses a websocket that does not offer the ``v1.kernel.websocket.jupyter.org`` subprotocol (HTTP 400
  before the upgrade), so the legacy framing is never used;
- checks every incoming frame before anything is allocated (:func:`check_v1_frame`): a binary frame whose
  part count is at least 3 and at most :data:`MAX_PARTS`, whose offset table fits inside the frame, and
  whose offsets are ordered and inside it; anything else closes the socket (code 1003) and is logged.

Recommended launch (the README's "Serving nbtrain")::

    voila notebook.ipynb --no-browser \\
        --Voila.kernel_websocket_connection_class=nbtrain.kernel_websocket.HardenedKernelWebsocketConnection

and for a Jupyter server (JupyterHub single-user servers, ``jupyter lab``)::

    --ServerApp.kernel_websocket_connection_class=nbtrain.kernel_websocket.HardenedKernelWebsocketConnection

>>> check_v1_frame(bytes.fromhex("ffffffffffffff7f"))
Traceback (most recent call last):
...
ValueError: kernel websocket frame refused: it announces 9223372036854775807 parts, 3 to 64 are allowed
"""

from __future__ import annotations

from typing import Any

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado import web

V1 = "v1.kernel.websocket.jupyter.org"
MAX_PARTS = 64  # channel, header, parent header, metadata, content and the binary buffers of one message


def check_v1_frame(frame: Any) -> None:
    """Raise ``ValueError`` unless ``frame`` is a well-formed v1 kernel-websocket binary message.

    Layout: an 8-byte little-endian count ``n``, then ``n`` 8-byte little-endian offsets; part ``i`` is
    ``frame[offset[i]:offset[i+1]]`` (the last offset is the end). Nothing is allocated before the count
    and the size of the offset table are known to fit the frame.
    """
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        raise ValueError("kernel websocket frame refused: the v1 protocol sends binary frames only")
    size = len(frame)
    if size < 8:
        raise ValueError(f"kernel websocket frame refused: {size} bytes, too short for a part count")
    count = int.from_bytes(frame[:8], "little")
    if not 3 <= count <= MAX_PARTS:
        raise ValueError(f"kernel websocket frame refused: it announces {count} parts, 3 to {MAX_PARTS} are allowed")
    table_end = 8 * (count + 1)
    if table_end > size:
        raise ValueError(f"kernel websocket frame refused: an offset table of {count} entries does not fit in "
                         f"{size} bytes")
    offsets = [int.from_bytes(frame[8 * (i + 1): 8 * (i + 2)], "little") for i in range(count)]
    if offsets[0] < table_end or any(b < a for a, b in zip(offsets, offsets[1:])) or offsets[-1] > size:
        raise ValueError("kernel websocket frame refused: its offsets are not ordered within the frame")


class HardenedKernelWebsocketConnection(ZMQChannelsWebsocketConnection):
    """``ZMQChannelsWebsocketConnection`` that speaks the v1 protocol only and checks every frame."""

    def _offered_subprotocols(self) -> list[str]:
        header = self.websocket_handler.request.headers.get("Sec-WebSocket-Protocol", "")
        return [p.strip() for p in header.split(",") if p.strip()]

    async def prepare(self) -> None:
        if V1 not in self._offered_subprotocols():
            self.log.warning("nbtrain: refused a kernel websocket without the %s subprotocol", V1)
            raise web.HTTPError(400, f"this server accepts kernel websockets with the {V1} subprotocol only")
        await super().prepare()

    def connect(self) -> Any:
        if self.subprotocol != V1:  # (prepare refused it already; a handler that skipped prepare)
            self.websocket_handler.close(1002, "the v1 kernel websocket protocol is required")
            return None
        return super().connect()

    def handle_incoming_message(self, incoming_msg: Any) -> None:
        if self.subprotocol != V1:
            self.websocket_handler.close(1002, "the v1 kernel websocket protocol is required")
            return
        try:
            check_v1_frame(incoming_msg)
        except ValueError as exc:
            self.log.warning("nbtrain: %s; closing the websocket of kernel %s", exc, self.kernel_id)
            self.websocket_handler.close(1003, "malformed frame")
            return
        super().handle_incoming_message(incoming_msg)
