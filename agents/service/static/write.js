// Write: a draft comes back with cited additions after its sections; the author keeps or rejects
// each and downloads the document the server renders from those choices (/v1/write/render).

import { api } from "./api.js";
import { langAttribute, t } from "./i18n.js";
import { $, clearError, download, el, showError, sourceList, withCitations } from "./ui.js";

const HEADING = /^#{1,6}\s/;

/** The draft's sections, numbered from 1 as the server numbers them (agents/writer.py split_sections). */
export function splitSections(draft) {
  const blocks = draft.trim().split(/\n\s*\n/).filter((b) => b.trim());
  const headings = blocks.some((b) => HEADING.test(b));
  const sections = [];
  for (const block of blocks) {
    if (!sections.length || !headings || HEADING.test(block)) sections.push([block]);
    else sections.at(-1).push(block);
  }
  return sections.map((parts) => parts.join("\n\n"));
}

/** The passages an addition's [n] markers cite (it was given more), numbered as in its text. */
function cited(addition) {
  const refs = new Set([...addition.text.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1])));
  return addition.sources.map((s, i) => ({ ...s, ref: i + 1 })).filter((s) => refs.has(s.ref));
}

/** The author's section as written, its Markdown headings shown as headings. */
function section(text) {
  return el(
    "div",
    { class: "section" },
    text.split(/\n\s*\n/).map((block) => {
      const heading = block.match(/^(#{1,6})\s+(.*)$/s);
      return heading ? el(`h${Math.min(6, heading[1].length + 2)}`, {}, heading[2]) : el("p", {}, block);
    }),
  );
}

export function setupWrite(state) {
  const status = $("write-status");
  const resultBox = $("write-result");
  let current = null; // {draft, kb, response}

  $("write-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const draft = $("write-input").value;
    if (!draft.trim()) return;
    clearError();
    status.textContent = t("write.working");
    $("write-submit").disabled = true;
    resultBox.hidden = true;
    try {
      const factor = Number($("write-factor").value);
      const response = await api.write({ draft, kb: state.kb || null, factor });
      current = { draft, kb: response.kb, response };
      status.textContent = response.note || "";
      show();
    } catch (error) {
      status.textContent = "";
      showError(error);
    } finally {
      $("write-submit").disabled = false;
    }
  });

  function show() {
    const { draft, kb, response } = current;
    const lang = langAttribute(response.lang);
    const doc = $("write-doc");
    doc.lang = lang;
    doc.replaceChildren(
      ...splitSections(draft).flatMap((text, i) => [
        section(text),
        ...response.additions.filter((a) => a.section === i + 1).map((a) => additionItem(a, kb)),
      ]),
    );
    summarize();
    resultBox.hidden = false;
  }

  function additionItem(addition, kb) {
    const item = el("figure", { class: "addition", dataset: { id: addition.id } });
    const keep = el("button", { type: "button", class: "keep", onclick: () => choose(true) }, t("write.keep"));
    const reject = el("button", { type: "button", class: "reject", onclick: () => choose(false) }, t("write.reject"));
    function choose(accepted) {
      addition.accepted = accepted;
      paint();
      summarize();
    }
    function paint() {
      item.dataset.state = addition.accepted ? "kept" : "rejected";
      keep.setAttribute("aria-pressed", String(addition.accepted));
      reject.setAttribute("aria-pressed", String(!addition.accepted));
      label.textContent = `${t("write.addition", { n: addition.id })} · ${addition.accepted ? t("write.kept") : t("write.rejected")}`;
    }
    const label = el("figcaption", { class: "muted small" });
    item.append(
      label,
      el("mark", { class: "added" }, withCitations(addition.text, (n) => addition.sources[n - 1], kb)),
      sourceList(cited(addition), kb),
      el("div", { class: "row choices", role: "group", "aria-label": t("write.addition", { n: addition.id }) }, keep, reject),
    );
    paint();
    return item;
  }

  function summarize() {
    const additions = current.response.additions;
    $("write-summary").textContent = additions.length
      ? t("write.summary", { kept: additions.filter((a) => a.accepted).length, total: additions.length })
      : t("write.unchanged");
  }

  async function rendered() {
    const { draft, response } = current;
    return (await api.render({ draft, lang: response.lang, additions: response.additions })).text;
  }

  async function save(kind) {
    if (!current) return;
    try {
      const text = await rendered();
      if (kind === "md") download("babelrag-draft.md", text, "text/markdown");
      else download("babelrag-draft.txt", text.replace(/^#{1,6}\s+/gm, ""), "text/plain");
    } catch (error) {
      showError(error);
    }
  }

  document.addEventListener("babelrag:language", () => current && show());
  $("write-download-md").addEventListener("click", () => save("md"));
  $("write-download-txt").addEventListener("click", () => save("txt"));
}
