"""``GET /page/{chunk_id}``: the page a cited passage is printed on, with the passage highlighted.

The chat's sources link here for passages from PDFs and page images (see
:func:`rag.ui.render.source_html`). Only indexed passages can be asked for, by their
chunk id: the file is the one the index's manifest names, so no path ever comes from the
request. When the chat has a login (``RAG_AUTH``) the page needs the same login.

Answers (one line of text for every failure):

- 200 ``image/png``: the page (:func:`rag.ui.page_view.page_view`);
- 401 without the chat's login; 404 for an unknown passage, or one not from a page;
- 410 when the file was moved or changed since it was indexed (re-index it).
"""


from functools import lru_cache
from pathlib import Path

from rag.config import Settings
from rag.errors import RagError

PAGE_PATH = "page"  # the route, relative to the app's root: page/<chunk_id>


def logged_in(request) -> bool:
    """Whether the request carries the chat's login cookie (always true without a login)."""
    app = request.app
    if getattr(app, "auth", None) is None and getattr(app, "auth_dependency", None) is None:
        return True
    cookie_id = getattr(app, "cookie_id", "")
    token = request.cookies.get(f"access-token-{cookie_id}") or request.cookies.get(f"access-token-unsecure-{cookie_id}")
    return token is not None and getattr(app, "tokens", {}).get(token) is not None


def build_page_router(settings: Settings):
    """The route, as a FastAPI router (fastapi is imported here: the HTML side only needs ``PAGE_PATH``)."""
    from fastapi import APIRouter, Request
    from fastapi.responses import PlainTextResponse, Response

    router = APIRouter()

    @router.get(f"/{PAGE_PATH}/{{chunk_id}}")
    def page(chunk_id: str, request: Request):  # a plain def: FastAPI runs it in a worker thread
        if not logged_in(request):
            return PlainTextResponse("Log in to the chat first.", status_code=401)
        try:
            png = page_png(settings, chunk_id)
        except PageUnavailable as exc:
            return PlainTextResponse(str(exc), status_code=exc.status)
        except RagError as exc:
            return PlainTextResponse(str(exc), status_code=422)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

    return router


class PageUnavailable(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _checksum(path: Path) -> str:
    """The file's SHA-256, hashed again only when its size or modification time changed: a
    page view must not read a whole PDF per request."""
    stat = path.stat()
    return _checksum_of(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=256)
def _checksum_of(path: str, size: int, mtime_ns: int) -> str:
    from rag.store.manifest import file_checksum

    return file_checksum(Path(path))


def page_png(settings: Settings, chunk_id: str) -> bytes:
    """The highlighted page of passage ``chunk_id`` in the index ``settings`` name, as PNG."""
    from rag.corpus.paged import PageLimits
    from rag.retrieval import load_searcher
    from rag.ui.page_view import page_view

    store = load_searcher(settings).store
    chunks = store.get_chunks([chunk_id]) if chunk_id.isalnum() else []
    if not chunks:
        raise PageUnavailable(404, f"No passage {chunk_id!r} in the index.")
    chunk = chunks[0]
    entry = store.manifest.files.get(chunk.file or chunk.source) if store.manifest else None
    if not chunk.page or entry is None:
        raise PageUnavailable(404, f"Passage {chunk_id} is not from a PDF or a page image.")
    path = Path(entry.path)
    if not path.is_file() or _checksum(path) != entry.sha256:
        raise PageUnavailable(410, f"{chunk.source} was moved or changed since it was indexed; re-index it to see its pages.")
    box = tuple(chunk.bbox) if chunk.bbox else None
    return page_view(path, int(chunk.page), chunk.text, box, PageLimits.from_settings(settings)).png
