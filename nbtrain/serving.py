"""What a served notebook (Voilà, JupyterHub, Binder) may show and accept: stdlib only, cheap to import.

- :func:`visitor_text` is the text of an error or status line as a visitor sees it: server paths are cut
  down to their last component (``"/srv/data/MNIST"`` → ``"…/MNIST"``) and the length is bounded. The full
  text stays on the Python side (``trainer.error``, the raised exception) for the notebook's owner.
- :func:`html_text` escapes such a text for an ``HTML`` widget.
- :func:`under_voila` tells whether this kernel was started by Voilà (it sets ``SERVER_SOFTWARE`` to
  ``voila/<version>`` and ``VOILA_*`` variables in the kernel's environment).
- :func:`comm_allowed` decides whether the ``nbtrain`` comm target is offered: always in JupyterLab/
  Notebook, under Voilà only when the server's owner opted in with ``NBTRAIN_VOILA_COMM=1``.

>>> visitor_text("MNIST not found under root='/srv/course/data' (No such file)")
"MNIST not found under root='…/data' (No such file)"
>>> html_text("<img src=x onerror=alert(1)>")
'&lt;img src=x onerror=alert(1)&gt;'
"""

from __future__ import annotations

import html
import os
import re

MAX_TEXT = 600  # characters of one message shown in a page

# An absolute POSIX path (also file:// URLs and ~/...), or a Windows drive path; the last component is kept.
_PATH = re.compile(
    r"""(?<![\w.~/-])(?:file:(?=/))?(?:~|[A-Za-z]:)?(?:[\\/]+[^\s'"<>|:;,()\[\]{}\\/]+)+[\\/]?(?=[^\w.-]|$)""")


def _shorten(match: re.Match) -> str:
    text = match.group(0)
    if not re.search(r"[A-Za-z_]", text.replace("file:", "")):  # "t //100", "1/2": arithmetic, not a path
        return text
    parts = [p for p in re.split(r"[\\/]", text) if p and p not in ("file:", "~") and not re.fullmatch(r"[A-Za-z]:", p)]
    if not parts:
        return text
    if len(parts) == 1 and not text.startswith(("~", "file:")) and not re.match(r"[A-Za-z]:", text):
        # "/tmp" or "/data": still a server path, but short; keep only the name
        return f"…/{parts[-1]}" if text.startswith(("/", "\\")) else text
    return f"…/{parts[-1]}"


def visitor_text(text: object, limit: int = MAX_TEXT) -> str:
    """``text`` without server paths (each replaced by ``…/<last component>``), at most ``limit`` characters.

    >>> visitor_text("cannot open /home/ta/.cache/torch/hub/checkpoints/resnet18-f37072fd.pth")
    'cannot open …/resnet18-f37072fd.pth'
    >>> visitor_text("lr 0.1 → 0.5 at step 3 / 100")
    'lr 0.1 → 0.5 at step 3 / 100'
    """
    s = _PATH.sub(_shorten, str(text))
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s


def html_text(text: object, limit: int = MAX_TEXT) -> str:
    """:func:`visitor_text`, HTML-escaped (quotes too): safe inside an element or an attribute."""
    return html.escape(visitor_text(text, limit), quote=True)


def under_voila() -> bool:
    """True in a kernel that Voilà started: ``SERVER_SOFTWARE=voila/...`` in its environment, or Voilà's
    own variables (``VOILA_PREHEAT``, ``VOILA_BASE_URL``, ``VOILA_KERNEL_ID``: pre-heated kernels too)."""
    env = os.environ
    return env.get("SERVER_SOFTWARE", "").lower().startswith("voila") or any(
        k in env for k in ("VOILA_PREHEAT", "VOILA_BASE_URL", "VOILA_KERNEL_ID"))


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def comm_allowed() -> bool:
    """Whether this kernel offers the ``nbtrain`` comm target: yes, except under Voilà without
    ``NBTRAIN_VOILA_COMM=1``; ``NBTRAIN_COMM=0`` turns it off everywhere."""
    if os.environ.get("NBTRAIN_COMM", "").strip().lower() in ("0", "false", "no", "off"):
        return False
    return not under_voila() or _flag("NBTRAIN_VOILA_COMM")
