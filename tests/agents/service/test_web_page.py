"""The web page end to end: the real app under uvicorn, driven in headless Chromium.

The models are fakes (a keyword embedder, a chat model that streams passage sentences slowly), so
every flow is deterministic and takes seconds; the last test asks one question of the real
packaged models. Screenshots go to ``$BABELRAG_TEST_SCREENSHOTS`` when set (the ones in
``bench/results/web/`` were made so), else to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.agents.service.web_support import (
    PassageEchoChatModel,
    browser_required,
    chromium_executable,
    serve,
)
from tests.conftest import SAMPLE_KB

pytestmark = pytest.mark.browser

# read at import: the autouse fixture that isolates each test removes BABELRAG_* variables
CHROMIUM = chromium_executable()
REQUIRE_BROWSER = browser_required()
SCREENSHOTS = os.environ.get("BABELRAG_TEST_SCREENSHOTS")
VIEWPORT = {"width": 1180, "height": 820}


def _need_browser() -> str:
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "Playwright for Python is not installed (pip install -e '.[dev]')"
    if reason is None and not CHROMIUM:
        reason = "no Chromium: apt-get install chromium fonts-noto-cjk, or set BABELRAG_CHROMIUM"
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")  # not session: Playwright's sync API runs an event loop in this
def browser():  # thread until it stops, and the async tests of later modules need none running
    executable = _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


def _service(runtime):
    from babelrag.agents.service.app import create_app
    from babelrag.agents.service.backend import Service

    return create_app(Service(runtime))


@pytest.fixture(scope="session")
def fake_runtime(tmp_path_factory):
    """The sample knowledge base under a keyword embedder, answered by the streaming fake."""
    from babelrag.agents.config import (
        AnswerSettings,
        ModelSettings,
        RetrievalSettings,
        Settings,
        TranslationSettings,
    )
    from babelrag.agents.runtime import Runtime
    from babelrag.stores.fakes import KeywordEmbeddings

    settings = Settings(
        home=tmp_path_factory.mktemp("web-home"),
        kb="sample",
        models=ModelSettings(device="cpu"),
        # headings off: the keyword fake gives a six-word heading a high cosine for one shared "in";
        # how headings rank is measured with the real models (README "How well it works")
        retrieval=RetrievalSettings(translate=False, headings=False),
        answer=AnswerSettings(min_support=0.3),
        translation=TranslationSettings(cache=False),
    )
    rt = Runtime(settings)
    rt.__dict__["embedder"] = KeywordEmbeddings(dimension=256)
    rt.__dict__["llm"] = PassageEchoChatModel()
    report = rt.ingestor().ingest([SAMPLE_KB])
    assert not report.failed
    return rt


@pytest.fixture(scope="session")
def base_url(fake_runtime):
    with serve(_service(fake_runtime)) as url:
        yield url


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _open(browser, url: str, *, locale: str = "en-US", hash: str = "", **context):
    viewport = context.pop("viewport", VIEWPORT)
    ctx = browser.new_context(locale=locale, viewport=viewport, accept_downloads=True, **context)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.goto(f"{url}/{hash}")
    page.wait_for_selector("body[data-ready=true]")
    page.js_errors = errors  # type: ignore[attr-defined]
    return page


@pytest.fixture
def page_for(browser, base_url):
    pages = []

    def make(**kwargs):
        page = _open(browser, base_url, **kwargs)
        pages.append(page)
        return page

    yield make
    for page in pages:
        assert page.js_errors == [], "the page logged errors"  # type: ignore[attr-defined]
        page.context.close()


def _shot(page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"))


STREAMING_TEXT = """() => {
  const text = document.querySelector('#ask-answer .answer-text');
  const streaming = text && text.classList.contains('streaming') && text.textContent.length > 0;
  return streaming ? text.textContent : null;
}"""


def test_a_chinese_question_streams_its_answer_and_a_citation_opens_the_passage(page_for, shots) -> None:
    page = page_for(locale="zh-CN")
    assert page.get_attribute("html", "lang") == "zh-Hans", "the UI follows navigator.language"
    assert page.inner_text("#tab-ask") == "提问"
    page.fill("#ask-input", "龙井茶是怎么炒制的？")
    page.keyboard.press("Enter")
    partial = page.wait_for_function(STREAMING_TEXT, timeout=15_000).json_value()
    page.wait_for_selector("#ask-answer[data-state=done]", timeout=30_000)
    final = page.inner_text("#ask-answer .answer-text")
    assert partial and len(partial) < len(final), "text was shown while it streamed, before the end"
    assert final.replace("[", "").startswith(partial[:3]), "the streamed text is the answer's beginning"
    assert page.get_attribute("#ask-answer .answer-text", "lang") == "zh-Hans"
    assert "回答语言：中文" in page.inner_text("#ask-answer .meta")
    assert "（与问题相同）" in page.inner_text("#ask-answer .meta"), "auto: the question's language"
    page.wait_for_selector("#ask-submit:enabled")
    cites = page.locator("#ask-answer button.cite")
    assert cites.count() >= 1
    _shot(page, shots, "ask")
    cites.first.click()
    dialog = page.locator("dialog#passage")
    assert dialog.is_visible()
    passage = page.inner_text("#passage-text")
    assert "龙井" in passage
    assert page.inner_text("#passage-source").endswith("longjing.md")
    assert "(zh)" in page.inner_text("#passage-lang")
    page.wait_for_selector("#passage-after:not([hidden]), #passage-before:not([hidden])", timeout=5_000)
    _shot(page, shots, "ask-citation")
    page.keyboard.press("Escape")
    assert not dialog.is_visible(), "Escape closes the passage"


def test_the_chosen_answer_language_is_sent_and_shown(page_for) -> None:
    page = page_for(locale="de-DE")
    assert page.inner_text("#tab-ask") == "Fragen"
    page.select_option("#answer-lang", "en")
    page.fill("#ask-input", "How hot should the water be for green tea?")
    with page.expect_request("**/v1/ask") as request:
        page.click("#ask-submit")
    body = json.loads(request.value.post_data or "{}")
    assert body["lang"] == "en" and body["stream"] is True and body["kb"] == "sample"
    page.wait_for_selector("#ask-answer[data-state=done]", timeout=30_000)
    meta = page.inner_text("#ask-answer .meta")
    assert "Antwort auf Englisch" in meta and "(gewählt)" in meta
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.input_value("#answer-lang") == "en", "the choice is remembered"


def test_stop_ends_an_answer_while_it_streams(page_for) -> None:
    page = page_for()
    page.fill("#ask-input", "How long should green tea steep?")
    page.click("#ask-submit")
    page.wait_for_function(STREAMING_TEXT)
    page.click("#ask-stop")
    page.wait_for_selector("#ask-answer[data-state=failed]")
    assert page.is_hidden("#ask-stop") and page.is_enabled("#ask-submit")
    assert page.is_hidden("#alert"), "stopping is not an error"
    page.click("#ask-submit")
    page.wait_for_selector("#ask-answer[data-state=done]", timeout=30_000)


def test_search_ranks_passages_and_opens_one(page_for, shots) -> None:
    page = page_for(locale="de-DE", hash="#search")
    assert page.is_visible("#panel-search") and not page.is_visible("#panel-ask")
    page.fill("#search-input", "Wie viele Tassen Tee trinkt man in Ostfriesland?")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#search-results li.hit")
    hits = page.locator("#search-results li.hit")
    assert 1 <= hits.count() <= 5
    assert re.match(r"\d+ Passagen", page.inner_text("#search-status"))
    first_title = hits.first.locator(".title").inner_text()
    assert first_title == "Ostfriesische Teekultur"
    _shot(page, shots, "search")
    hits.first.locator("button.title").click()
    assert page.locator("dialog#passage").is_visible()
    assert page.inner_text("#passage-title") == first_title
    page.click("dialog#passage button[value=close]")
    assert not page.locator("dialog#passage").is_visible()
    assert page.evaluate("document.activeElement.classList.contains('title')"), "focus returns to the hit"


def test_a_chat_session_is_created_continued_after_a_reload_and_deleted(page_for, shots) -> None:
    page = page_for(hash="#chat")
    page.click("#chat-new")
    page.wait_for_selector("#session-list .session [aria-current=true]")
    page.fill("#chat-input", "How long should green tea steep?")
    page.keyboard.press("Enter")
    page.wait_for_selector("#chat-turns .turn.assistant [data-state=done]", timeout=30_000)
    item = page.locator("#session-list .session", has_text="How long should green tea steep?")
    item.wait_for()
    session_id = item.get_attribute("data-id")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.locator(f"#session-list .session[data-id='{session_id}'] button.open").click()
    page.wait_for_selector("#chat-turns .turn.user")
    assert page.locator("#chat-turns .turn").count() == 2, "the saved turns come back"
    with page.expect_request(lambda r: r.method == "PATCH") as patch:
        page.select_option("#answer-lang", "ja")
    assert json.loads(patch.value.post_data or "{}") == {"lang": "ja"}, "the open session answers in it"
    with page.expect_request(lambda r: r.method == "PATCH") as patch:
        page.select_option("#answer-lang", "")
    assert json.loads(patch.value.post_data or "{}") == {"lang": None}, "auto again"
    page.fill("#chat-input", "Wie viele Tassen Tee trinkt man in Ostfriesland?")
    page.click("#chat-send")
    page.wait_for_selector("#chat-turns .turn.assistant:nth-of-type(4) [data-state=done]", timeout=30_000)
    assert page.locator("#chat-turns .turn").count() == 4
    assert "2" in page.inner_text(f"#session-list .session[data-id='{session_id}']")
    _shot(page, shots, "chat")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#session-list .session[data-id='{session_id}'] button.delete").click()
    page.wait_for_selector(f"#session-list .session[data-id='{session_id}']", state="detached")
    assert page.locator("#chat-turns .turn").count() == 0


WITHOUT_CITATIONS = """(mark) => {
  const copy = mark.cloneNode(true);
  copy.querySelectorAll('button.cite').forEach((button) => button.remove());
  return copy.textContent;
}"""


def test_write_keeps_one_addition_rejects_another_and_downloads_the_result(page_for, shots) -> None:
    page = page_for(locale="zh-CN", hash="#write")
    draft = (
        "# 龙井\n\n西湖龙井是很有名的绿茶，我去年春天在杭州第一次喝到，印象很深。\n\n"
        "# 泡茶\n\n我喜欢喝绿茶，但是在家里常常泡得很苦，不知道水温应该是多少。"
    )
    page.fill("#write-input", draft)
    page.select_option("#write-factor", "3")
    page.click("#write-submit")
    page.wait_for_selector("#write-result:not([hidden])", timeout=30_000)
    additions = page.locator("#write-doc figure.addition")
    assert additions.count() >= 2
    assert additions.first.locator("mark button.cite").count() >= 1, "additions carry their citations"
    kept, rejected = (additions.nth(i).locator("mark").evaluate(WITHOUT_CITATIONS) for i in (0, 1))
    additions.nth(1).locator("button.reject").click()
    assert additions.nth(1).get_attribute("data-state") == "rejected"
    assert additions.nth(0).get_attribute("data-state") == "kept"
    assert additions.nth(1).locator("button.reject").get_attribute("aria-pressed") == "true"
    assert page.inner_text("#write-summary").startswith(f"保留了 {additions.count()} 条补充中的")
    _shot(page, shots, "write")
    with page.expect_download() as download:
        page.click("#write-download-md")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename.endswith(".md")
    assert text.startswith(draft.split("\n\n# 泡茶")[0]), "the author's text is kept as written"
    plain = re.sub(r"\[\d+\]", "", text)  # citations are renumbered in the document
    assert kept in plain and rejected not in plain
    assert "## 来源" in text
    with page.expect_download() as plain:
        page.click("#write-download-txt")
    assert "## " not in Path(plain.value.path()).read_text(encoding="utf-8")
    page.select_option("#ui-lang", "de")
    assert page.inner_text("#write-summary") == f"1 von {additions.count()} Ergänzungen behalten"
    assert additions.nth(1).get_attribute("data-state") == "rejected", "a redraw keeps the choices"
    assert additions.nth(1).locator("button.reject").inner_text() == "Verwerfen"


def test_documents_uploaded_to_a_new_knowledge_base_are_searchable(page_for, shots, tmp_path) -> None:
    notes = tmp_path / "matcha.md"
    notes.write_text(
        "# 抹茶の点て方\n\n抹茶は約八十度のお湯で点てます。茶筅を前後に素早く動かして、泡を立てます。\n",
        encoding="utf-8",
    )
    page = page_for(locale="ja-JP", hash="#kb")
    page.wait_for_selector("#kb-info h2")
    assert page.inner_text("#kb-info h2") == "sample"
    assert "日本語" not in page.inner_text("#kb-info"), "the sample has no Japanese document"
    page.set_input_files("#upload-files", str(notes))
    page.fill("#upload-kb", "team-notes")
    page.click("#upload-submit")
    # predicates are functions, not expressions: the page's CSP forbids eval, which expressions need
    done = "() => document.querySelector('#upload-status').textContent.startsWith('追加 1 件')"
    page.wait_for_function(done)
    assert page.input_value("#kb") == "team-notes", "the picker moves to the knowledge base just filled"
    page.wait_for_selector("#kb-info h2:text('team-notes')")
    assert "日本語" in page.inner_text("#kb-info .chips")
    _shot(page, shots, "kb")
    bad = tmp_path / "tool.exe"
    bad.write_bytes(b"MZ")
    page.set_input_files("#upload-files", str(bad))
    page.click("#upload-submit")
    page.wait_for_selector("#alert:not([hidden])")
    assert ".exe" in page.inner_text("#alert")
    page.click("#tab-search")
    page.fill("#search-input", "抹茶のお湯は何度ですか？")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#search-results li.hit")
    assert page.locator("#search-results li.hit .title").first.inner_text() == "抹茶の点て方"
    page.js_errors.clear()  # the refused upload's 415 is logged by the browser, as it should be


def test_every_interface_language_is_complete_and_switches_the_page(page_for, shots) -> None:
    page = page_for()
    missing = page.evaluate(
        """async () => {
          const { _strings } = await import('/static/i18n.js');
          const keys = Object.keys(_strings.en);
          const missing = ([lang, s]) => [lang, keys.filter((k) => !(k in s))];
          return Object.fromEntries(Object.entries(_strings).map(missing));
        }"""
    )
    assert missing == {"en": [], "zh": [], "ja": [], "de": []}
    switches = [("ja", "ja", "質問"), ("de", "de", "Fragen"), ("zh", "zh-Hans", "提问"), ("en", "en", "Ask")]
    for lang, html_lang, ask in switches:
        page.select_option("#ui-lang", lang)
        assert page.get_attribute("html", "lang") == html_lang
        assert page.inner_text("#tab-ask") == ask
        if lang in ("ja", "de"):
            _shot(page, shots, f"ui-{lang}")


def test_tabs_work_from_the_keyboard(page_for) -> None:
    page = page_for()
    page.focus("#tab-ask")
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#tab-chat", "aria-selected") == "true"
    assert page.evaluate("document.activeElement.id") == "tab-chat"
    assert page.is_visible("#panel-chat") and not page.is_visible("#panel-ask")
    page.keyboard.press("End")
    assert page.is_visible("#panel-kb")
    page.keyboard.press("ArrowRight")
    assert page.is_visible("#panel-ask"), "arrows wrap around"


def test_dark_mode_and_a_phone_sized_screen(page_for, shots) -> None:
    page = page_for(locale="ja-JP", color_scheme="dark", viewport={"width": 390, "height": 844})
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(21, 23, 26)", "prefers-color-scheme: dark"
    page.fill("#ask-input", "緑茶は何度のお湯で淹れればいいですか？")
    page.keyboard.press("Enter")
    page.wait_for_selector("#ask-answer[data-state=done]", timeout=30_000)
    page.wait_for_selector("#ask-submit:enabled")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "nothing wider than a phone's screen"
    _shot(page, shots, "phone-dark-ja")


def test_the_page_needs_nothing_from_the_internet(base_url) -> None:
    import httpx

    index = httpx.get(f"{base_url}/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in index.headers["content-security-policy"], "nothing from elsewhere runs"
    static = Path(__file__).resolve().parents[3] / "agents" / "service" / "static"
    for path in static.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"https?://|import .* from \"https?://|url\(https?://", text), path
        served = httpx.get(f"{base_url}/static/{path.name}")
        assert served.status_code == 200, path.name
    assert httpx.get(f"{base_url}/static/app.js").headers["content-type"].split(";")[0] in (
        "text/javascript",
        "application/javascript",
    )


@pytest.mark.integration
@pytest.mark.slow
def test_the_real_models_answer_a_chinese_question_in_the_browser(browser, sample_runtime, shots) -> None:
    """One question and one search through the page, on the packaged embedder and generator."""
    with serve(_service(sample_runtime)) as url:
        page = _open(browser, url, locale="zh-CN")
        try:
            page.fill("#ask-input", "在巴塞尔的莱茵河里游泳时，衣服和手机放在哪里？")
            page.keyboard.press("Enter")
            # generous: seconds on a quiet machine, minutes beside other CPU-heavy work
            partial = page.wait_for_function(STREAMING_TEXT, timeout=300_000).json_value()
            page.wait_for_selector("#ask-answer[data-state=done]", timeout=300_000)
            page.wait_for_selector("#ask-submit:enabled")
            assert partial, "tokens were shown as the generator produced them"
            assert page.get_attribute("#ask-answer .answer-text", "lang") == "zh-Hans"
            assert "回答语言：中文" in page.inner_text("#ask-answer .meta")
            _shot(page, shots, "real-ask")
            page.click("#tab-search")
            page.fill("#search-input", "Wie hoch sind die Türme des Kölner Doms?")
            page.click("#search-form button[type=submit]")
            page.wait_for_selector("#search-results li.hit", timeout=60_000)
            titles = page.locator("#search-results li.hit .title").all_inner_texts()
            assert any("Köln" in t or "Cologne" in t or "科隆" in t for t in titles[:3]), titles
            _shot(page, shots, "real-search")
            assert page.js_errors == []  # type: ignore[attr-defined]
        finally:
            page.context.close()


def test_a_server_with_an_api_key_gets_it_once_and_keeps_it_in_the_browser(browser, fake_runtime) -> None:
    from babelrag.agents.config import ServiceSettings

    settings = fake_runtime.settings.model_copy(update={"service": ServiceSettings(api_key="s3cret-key")})
    with serve(_service(fake_runtime.derive(settings))) as url:
        ctx = browser.new_context(viewport=VIEWPORT)
        page = ctx.new_page()
        try:
            page.goto(f"{url}/")
            page.wait_for_selector("body[data-ready=true]")
            assert page.is_visible("#api-key"), "the page asks for the key before any API call"
            assert not page.is_visible("#alert")
            page.fill("#api-key-input", "wrong")
            page.click("#api-key-form button[type=submit]")
            page.wait_for_selector("#alert:not([hidden])")
            assert "wrong API key" in page.inner_text("#alert")
            assert page.is_visible("#api-key"), "a refused key asks again"
            page.fill("#api-key-input", "s3cret-key")
            page.click("#api-key-form button[type=submit]")
            listed = "() => document.querySelector('#kb option[value=sample]')?.textContent.includes('(')"
            page.wait_for_function(listed)
            assert page.evaluate("localStorage.getItem('babelrag.apiKey')") == "s3cret-key"
            assert page.get_attribute("#api-key-input", "type") == "password"
            page.fill("#ask-input", "How long should green tea steep?")
            page.keyboard.press("Enter")
            page.wait_for_selector("#ask-answer[data-state=done]", timeout=30_000)
            cites = page.locator("#ask-answer button.cite").count()
            assert cites >= 1, "the streamed request carried the key"
            page.reload()
            page.wait_for_selector("body[data-ready=true]")
            assert not page.is_visible("#api-key"), "the stored key is used after a reload"
        finally:
            ctx.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_accessibility_violations_on_any_tab(page_for, scheme) -> None:
    """axe-core's WCAG 2.x A/AA rules, on every tab with content on it, in both colour schemes."""
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    page = page_for(locale="zh-CN", color_scheme=scheme)
    page.fill("#ask-input", "龙井茶是怎么炒制的？")
    page.keyboard.press("Enter")
    page.wait_for_selector("#ask-answer[data-state=done]", timeout=30_000)
    page.wait_for_selector("#ask-submit:enabled")
    options = {
        "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        "resultTypes": ["violations"],
    }
    problems = {}
    for tab in ("ask", "chat", "search", "write", "kb"):
        page.click(f"#tab-{tab}")
        if tab == "search":
            page.fill("#search-input", "Ostfriesische Teekultur")
            page.click("#search-form button[type=submit]")
            page.wait_for_selector("#search-results li.hit")
        violations = axe.run(page, options=options).response["violations"]
        problems[tab] = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations]
    page.click("#tab-ask")
    page.locator("#ask-answer button.cite").first.click()
    dialog = axe.run(page, options=options)
    problems["passage"] = [v["id"] for v in dialog.response["violations"]]
    assert problems == {tab: [] for tab in problems}
    assert len(dialog.response["passes"]) > 10, "axe ran its rules"
    page.keyboard.press("Escape")
    page.evaluate("() => document.querySelector('main').append(document.createElement('img'))")
    broken = axe.run(page, options=options)
    assert "image-alt" in [v["id"] for v in broken.response["violations"]], "axe sees a real violation"
