"""Server-rendered pages: search (text, image, "more like this") and the image page.

Every page works without JavaScript: forms submit normally and get a whole page back. With HTMX a search
swaps only the results (the ``HX-Request`` header asks for the fragment), and the browser caches fragments in
``localStorage`` keyed by the model and index versions sent in the ``X-Glimpse-*`` headers.
Errors are shown on the page next to the control that caused them, never as a JSON body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from server.api.deps import get_collection, get_settings, get_templates
from server.api.routes.search import answered
from server.core.config import Settings
from server.core.session import session_of
from server.schemas import SearchAnswer
from server.services.collection import CollectionSummary
from server.services.experiment import Routed
from server.services.model_pool import ModelLoadError, ModelPool, UnknownModelError
from server.services.search import QueryError, clean_query, search_image, search_similar, search_text
from server.services.uploads import IMAGE_ID, UploadError, query_image

router = APIRouter(tags=["pages"], include_in_schema=False)

K_CHOICES = (5, 10, 20, 50, 100)
DEFAULT_K = 20
SIMILAR_ON_IMAGE_PAGE = 8

Templates = Annotated[Jinja2Templates, Depends(get_templates)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass
class SearchForm:
    """What the search controls show: the values asked for and any problem with them."""

    q: str = ""
    k: int = DEFAULT_K
    model: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def _pool(request: Request) -> ModelPool | None:
    return request.app.state.services.pool()


def _features(request: Request):
    return request.app.state.services.features()


def _model_choices(pool: ModelPool | None, default: str) -> list[dict[str, Any]]:
    """The default first, then every registered version with its aliases, for the model selector."""
    if pool is None:
        return []
    choices = [{"value": default, "label": f"{default} (default)"}]
    try:
        versions = pool.versions()
    except Exception:  # noqa: BLE001 - a registry hiccup leaves only the default choice
        return choices
    for v in sorted(versions, key=lambda v: int(v.version) if v.version.isdigit() else 0, reverse=True):
        aliases = f" — {', '.join(v.aliases)}" if v.aliases else ""
        choices.append({"value": v.version, "label": f"version {v.version}{aliases}"})
    return choices


def _known_versions(request: Request, pool: ModelPool | None, names: list[str]) -> dict[str, dict[str, str]]:
    """Model and index versions of the choices that are loaded: the browser's cache keys. The default's are
    those of the version this session is routed to (production, or the candidate in an A/B test)."""
    if pool is None:
        return {}
    known = {}
    for name in names:
        try:
            if name == names[0]:
                loaded = request.app.state.experiment.route(pool, session_of(request), name).model
            else:
                loaded = pool.peek(name)
        except (UnknownModelError, ModelLoadError):
            continue
        if loaded is not None:
            known[name] = {"version": loaded.version, "index": loaded.index_version}
    return known


def _page(
    request: Request,
    templates: Jinja2Templates,
    settings: Settings,
    template: str,
    context: dict[str, Any],
    status: int = 200,
) -> HTMLResponse:
    """A whole page, or only the results fragment when HTMX asked for it."""
    pool = _pool(request)
    form: SearchForm = context.setdefault("form", SearchForm(model=settings.default_model))
    fragment = (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"  # history restores need the whole page
        and template == "search.html"
    )
    choices = [] if fragment else _model_choices(pool, settings.default_model)  # the fragment has no selector
    context |= {
        "k_choices": sorted({*K_CHOICES, form.k}),  # a k asked for in the URL (e.g. 8) shows as chosen
        "model_choices": choices,
        "known_versions": _known_versions(request, pool, [c["value"] for c in choices]) if not fragment else {},
        "return_to": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        "form": form,
        "max_upload_bytes": settings.max_upload_bytes,
    }
    response = templates.TemplateResponse(
        request, "_results.html" if fragment else template, context, status_code=status
    )
    response.headers["Vary"] = "HX-Request"
    answer: SearchAnswer | None = context.get("answer")
    if answer:
        response.headers["X-Glimpse-Model"] = form.model or settings.default_model
        response.headers["X-Glimpse-Model-Version"] = answer.model.version
        response.headers["X-Glimpse-Index-Version"] = answer.model.index_version
    return response


def _parse_k(raw: str | None, form: SearchForm) -> int:
    if raw is None or raw == "":
        return DEFAULT_K
    try:
        k = int(raw)
    except ValueError:
        form.errors["k"] = "Choose how many results to show."
        return DEFAULT_K
    if not 1 <= k <= 100:
        form.errors["k"] = "Choose between 1 and 100 results."
        return DEFAULT_K
    return k


def _model_or_error(request: Request, settings: Settings, form: SearchForm) -> Routed | None:
    pool = _pool(request)
    if pool is None:
        form.errors["service"] = request.app.state.services.pool_problem or "Search is not available yet."
        return None
    if _features(request) is None:
        form.errors["service"] = request.app.state.services.features_problem or "Search is not available yet."
        return None
    try:
        return request.app.state.experiment.route(pool, session_of(request), form.model or settings.default_model)
    except UnknownModelError as exc:
        form.errors["model"] = f"There is no model “{exc.name}”. Choose one from the list."
    except ModelLoadError as exc:
        form.errors["service"] = f"That model cannot answer right now: {exc}"
    return None


def _answered(request: Request, answer: SearchAnswer, routed: Routed, *, votable: bool = True) -> SearchAnswer:
    return answered(answer, routed, request.app.state.served, votable=votable)


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    templates: Templates,
    settings: SettingsDep,
    collection: Annotated[CollectionSummary, Depends(get_collection)],
) -> HTMLResponse:
    return _page(request, templates, settings, "search.html", {"collection": collection})


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    templates: Templates,
    settings: SettingsDep,
    collection: Annotated[CollectionSummary, Depends(get_collection)],
    q: Annotated[str, Query(max_length=10_000)] = "",
    k: Annotated[str | None, Query(max_length=10)] = None,
    model: Annotated[str, Query(max_length=64)] = "",
    spell: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    form = SearchForm(q=q, model=model.strip() or settings.default_model)
    respell = spell.strip().lower() not in ("false", "0", "no", "off")  # "search as typed" links say false
    form.k = _parse_k(k, form)
    try:
        form.q = clean_query(q)
    except QueryError as exc:
        form.errors["q"] = "Type a few words to search for." if exc.reason == "empty" else str(exc)
    answer = None
    if not form.errors:
        routed = _model_or_error(request, settings, form)
        if routed is not None:
            answer = _answered(request, search_text(routed.model, _features(request), form.q, form.k, respell), routed)
    status = 422 if form.errors.keys() & {"q", "k", "model"} else 503 if form.errors else 200
    context = {"collection": collection, "form": form, "answer": answer, "mode": "text"}
    return _page(request, templates, settings, "search.html", context, status)


@router.post("/search/image", response_class=HTMLResponse)
async def search_image_page(
    request: Request,
    templates: Templates,
    settings: SettingsDep,
    collection: Annotated[CollectionSummary, Depends(get_collection)],
    file: Annotated[UploadFile | None, File()] = None,
    k: Annotated[str | None, Form(max_length=10)] = None,
    model: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse:
    form = SearchForm(model=model.strip() or settings.default_model)
    form.k = _parse_k(k, form)
    data = await file.read(settings.max_upload_bytes + 1) if file is not None and file.filename else None
    if data is None:
        form.errors["file"] = "Choose a picture to search with."
    answer, upload_status = None, 422
    if not form.errors:
        routed = _model_or_error(request, settings, form)
        if routed is not None:
            try:
                image, _ = await run_in_threadpool(query_image, settings, _features(request), data, None)
                answer = await run_in_threadpool(search_image, routed.model, _features(request), image, form.k)
                answer = _answered(request, answer, routed, votable=False)
            except UploadError as exc:
                form.errors["file"], upload_status = _upload_message(exc), exc.status
    # The API's status for the same upload (413 too large, 415 not an image, 422 broken), so both agree.
    status = 422 if form.errors.keys() & {"k", "model"} else 503 if form.errors else 200
    status = upload_status if "file" in form.errors else status
    context = {"collection": collection, "form": form, "answer": answer, "mode": "upload"}
    return _page(request, templates, settings, "search.html", context, status)


@router.get("/search/similar", response_class=HTMLResponse)
def similar_page(
    request: Request,
    templates: Templates,
    settings: SettingsDep,
    collection: Annotated[CollectionSummary, Depends(get_collection)],
    image_id: Annotated[str, Query(max_length=64)] = "",
    k: Annotated[str | None, Query(max_length=10)] = None,
    model: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    form = SearchForm(model=model.strip() or settings.default_model)
    form.k = _parse_k(k, form)
    answer, source = None, None
    routed = _model_or_error(request, settings, form) if not form.errors else None
    if routed is not None:
        try:
            features = _features(request)
            answer = _answered(request, search_similar(settings, routed.model, features, image_id, form.k), routed)
            source = features.records([answer.query_image_id])[0]
        except UploadError as exc:
            form.errors["image"] = _upload_message(exc)
    status = 404 if "image" in form.errors else 422 if form.errors.keys() & {"k", "model"} else 200
    context = {"collection": collection, "form": form, "answer": answer, "mode": "similar", "source": source}
    return _page(request, templates, settings, "search.html", context, 503 if "service" in form.errors else status)


@router.get("/images/{image_id}", response_class=HTMLResponse)
def image_page(request: Request, image_id: str, templates: Templates, settings: SettingsDep) -> HTMLResponse:
    features = _features(request)
    record = features.records([image_id])[0] if features is not None and IMAGE_ID.fullmatch(image_id) else None
    if record is None:
        context = {"missing": image_id[:64]}
        return _page(request, templates, settings, "image.html", context, 404 if features is not None else 503)
    form = SearchForm(model=settings.default_model)
    similar = None
    routed = _model_or_error(request, settings, form)
    if routed is not None:
        try:
            similar = search_similar(settings, routed.model, features, image_id, SIMILAR_ON_IMAGE_PAGE)
            similar = _answered(request, similar, routed)
        except UploadError as exc:
            form.errors["image"] = _upload_message(exc)
    context = {"record": record, "similar": similar, "form": form}
    return _page(request, templates, settings, "image.html", context)


def _upload_message(exc: UploadError) -> str:
    """The service's message, phrased for a person: a sentence with a capital and a full stop."""
    text = str(exc)
    return text[:1].upper() + text[1:].rstrip(".") + "."
