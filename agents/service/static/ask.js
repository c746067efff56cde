// Ask: one question, the answer streamed, then checked and cited.

import { api } from "./api.js";
import { AnswerView } from "./answer.js";
import { $, clearError, showError } from "./ui.js";

export function setupAsk(state) {
  const form = $("ask-form");
  const input = $("ask-input");
  const stop = $("ask-stop");
  const submit = $("ask-submit");
  let controller = null;

  input.addEventListener("keydown", (event) => {
    // Enter sends, Shift+Enter is a new line; never while an IME is composing (CJK input)
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  stop.addEventListener("click", () => controller?.abort());

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question || controller) return;
    clearError();
    const article = $("ask-answer");
    article.hidden = false;
    const view = new AnswerView(article, { kb: state.kb, forcedLang: state.answerLang });
    controller = new AbortController();
    submit.disabled = true;
    stop.hidden = false;
    try {
      const body = { question, kb: state.kb || null, lang: state.answerLang || null };
      const result = await api.ask(body, (name, data) => view.onEvent(name, data), { signal: controller.signal });
      view.finish(result);
    } catch (error) {
      view.fail();
      showError(error);
    } finally {
      controller = null;
      submit.disabled = false;
      stop.hidden = true;
    }
  });
}
