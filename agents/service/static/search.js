// Search: passages ranked across languages; each opens in the passage dialog.

import { api } from "./api.js";
import { langAttribute, languageName, t } from "./i18n.js";
import { $, basename, clearError, el, openPassage, showError } from "./ui.js";

export function setupSearch(state) {
  const form = $("search-form");
  const status = $("search-status");
  const results = $("search-results");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = $("search-input").value.trim();
    if (!query) return;
    clearError();
    status.textContent = t("ask.searching");
    results.replaceChildren();
    results.setAttribute("aria-busy", "true");
    try {
      const k = Number($("search-k").value) || 5;
      const response = await api.search({ query, kb: state.kb || null, k });
      status.textContent = response.hits.length
        ? t("search.count", { n: response.hits.length })
        : t("search.none");
      results.replaceChildren(...response.hits.map((hit) => hitItem(hit, response.kb)));
    } catch (error) {
      status.textContent = "";
      showError(error);
    } finally {
      results.setAttribute("aria-busy", "false");
    }
  });
}

function hitItem(hit, kb) {
  const lang = langAttribute(hit.lang);
  return el(
    "li",
    { class: "hit" },
    el(
      "div",
      { class: "row spread" },
      el(
        "button",
        { type: "button", class: "link title", lang, "aria-haspopup": "dialog", onclick: () => openPassage(hit, kb) },
        hit.title || basename(hit.source),
      ),
      el("span", { class: "score", title: t("passage.score") }, hit.score.toFixed(3)),
    ),
    el(
      "p",
      { class: "muted small" },
      el("span", { class: "badge", title: languageName(hit.lang) }, hit.lang),
      " ",
      el("span", { class: "path" }, hit.source),
    ),
    ...versionNotes(hit.metadata || {}),
    el("p", { class: "snippet", lang }, snippet(hit.text)),
  );
}

// A translation made at ingest is never shown as the original; other language versions are named.
function versionNotes(meta) {
  const notes = [];
  if (meta.translated_from) {
    notes.push(t("search.translated", { lang: languageName(meta.translated_from), by: meta.translator || "?" }));
  }
  if (meta.also_in) notes.push(t("search.also_in", { langs: meta.also_in }));
  return notes.length ? [el("p", { class: "note small" }, notes.join(" · "))] : [];
}

function snippet(text, limit = 280) {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > limit ? `${flat.slice(0, limit)}…` : flat;
}
